"""Empirical check that a fitted method predicts interaction t without answers t, t+1, ...

The strict protocol is a property of `predict`, which the harness cannot inspect, so it tests
it: flip every answer from a random position t on and require the predictions for positions
0..t to stay the same. A method that peeks at the current or a later answer moves them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from meta_engine.data import subset
from meta_engine.methods import Method
from meta_engine.types import Dataset, Sequence


def check_no_leak(
    method: Method, data: Dataset, *, n_students: int = 100, seed: int = 0, atol: float = 1e-5
) -> dict[str, Any]:
    """{"ok", "students", "max_abs_diff"} for up to ``n_students`` sequences of ``data``."""
    rng = np.random.default_rng(seed)
    n = min(n_students, len(data.sequences))
    idx = np.sort(rng.choice(len(data.sequences), n, replace=False))
    base_ds = subset(data, idx, data.name)
    cuts, seqs = [], []
    for s in base_ds.sequences:
        t = int(rng.integers(0, len(s))) if len(s) else 0
        c = s.correct.copy()
        c[t:] = 1 - c[t:]
        seqs.append(Sequence(s.student, s.items, s.skills, c, s.timestamps))
        cuts.append(t)
    pert = Dataset(data.name, seqs, data.n_items, data.n_skills, data.item_skills)
    base, new = method.predict(base_ds), method.predict(pert)
    worst = 0.0
    for b, p, t in zip(base, new, cuts, strict=True):
        if len(b):
            worst = max(worst, float(np.max(np.abs(np.asarray(b[: t + 1]) - p[: t + 1]))))
    return {"ok": worst <= atol, "students": n, "max_abs_diff": worst}
