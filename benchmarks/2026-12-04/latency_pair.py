"""adapt + select for one student on one thread, on a bank whose questions each have their own
id, built here (not by `api._synthetic`) so that the same input runs on older code too.

Run (from the repository root, or with PYTHONPATH=<an older worktree>):
    .venv/bin/python benchmarks/2026-12-04/latency_pair.py LABEL [OUT.json]
The shipped default core, a new course's tables (priors only), a 50-answer history over the
bank, 1,000 questions on 10 skills (a fifth with two skills); 5 repeats of 200 timed calls
after 10 warm-up calls; prints (and writes) the p50 of each repeat and their median.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from meta_engine import api
from meta_engine.api import adapt, prepare_bank, select_practice_set
from meta_engine.model.tables import InMemoryTableStore
from meta_engine.serve import course_tables
from meta_engine.types import Interaction, Item


def main(label: str, out: Path | None) -> dict:
    model = api.default_model()
    tables = course_tables(model, "c", InMemoryTableStore().load((model.version, "c")))
    rng = np.random.default_rng(0)
    bank = []
    for i in rng.choice(1000, size=1000, replace=False):
        k = 1 + int(rng.random() < 0.2)
        skills = tuple(sorted({int(x) for x in rng.integers(1, 11, size=k)}))
        bank.append(Item(int(i) + 1, skills))
    hist = [Interaction(it.id, it.skills, int(rng.random() < 0.65), float(t))
            for t, it in enumerate(bank[i] for i in rng.integers(0, 1000, 50))]
    pb = prepare_bank(model, bank)
    torch.set_num_threads(1)
    now = float(len(hist)) + 1e5

    def once() -> None:
        select_practice_set(model, adapt(model, hist, tables), pb, None, now, hist,
                            tables=tables)

    for _ in range(10):
        once()
    p50s = []
    for _ in range(5):
        ts = []
        for _ in range(200):
            t0 = time.perf_counter()
            once()
            ts.append((time.perf_counter() - t0) * 1000)
        p50s.append(round(float(np.percentile(ts, 50)), 3))
    report = {"label": label, "what": "adapt + select_practice_set, 1 thread",
              "bank": 1000, "history": 50, "p50_ms_repeats": p50s,
              "p50_ms_median": round(float(np.median(p50s)), 3)}
    if out is not None:
        out.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], Path(sys.argv[2]) if len(sys.argv) > 2 else None)))
