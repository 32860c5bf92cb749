"""Building the core that ships with the package (`metis build-default`).

Only simulated courses: no answer of any real student is in the checkpoint, so the project may
redistribute it. The simulator is fitted to aggregate statistics of the public ASSISTments
files (`data/public_stats.json`: success rates, right-after-right / right-after-wrong rates,
first-attempt and later rates on a skill, lengths, runs on a skill; computed once, stored with
the code), and courses are drawn around those fits and from a broad prior over courses
(`data/courses.py`). The build is deterministic for a given seed and thread count.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from meta_engine.data.courses import (
    CourseParams,
    fit_course_params,
    jitter,
    sample_params,
    simulate_course,
)
from meta_engine.data.simulate import split_by_student
from meta_engine.model.student import MetisConfig, MetisNet
from meta_engine.train import TrainCourse, train_courses

PUBLIC_STATS = Path(__file__).parent / "data" / "public_stats.json"


def fitted_params(seed: int = 0, trials: int = 60, log: Any = None) -> dict[str, dict]:
    """Simulator parameters fitted to each public dataset's statistics."""
    stats = json.loads(PUBLIC_STATS.read_text())["datasets"]
    out = {}
    for name, st in sorted(stats.items()):
        p, got, d = fit_course_params(st, trials=trials, seed=seed,
                                      skill_level=bool(st["skill_level"]),
                                      n_skills=int(st["n_skills"]))
        if not st["skill_level"]:
            p = replace(p, items_per_skill=max(2, int(round(st["items_per_skill"]))),
                        multi_skill=float(st["multi_skill"]))
        out[name] = {"params": p.to_dict(), "stats": got, "target": st, "distance": d}
        if log:
            log(f"fitted {name}: distance {d:.4f} family {p.family}")
    return out


def default_courses(seed: int = 0, n_prior: int = 10, n_per_fit: int = 4,
                    students: int = 300, fits: dict[str, dict] | None = None
                    ) -> tuple[list[TrainCourse], list[dict]]:
    """The simulated training courses: `n_per_fit` around each fitted simulator and `n_prior`
    from the broad prior, each split 80/20 into training and validation students."""
    rng = np.random.default_rng(seed + 7)
    plist: list[tuple[str, CourseParams]] = []
    for name, f in sorted((fits or {}).items()):
        base = CourseParams.from_dict(f["params"])
        for j in range(n_per_fit):
            p = base if j == 0 else jitter(base, rng)
            # Fewer items than the real bank keeps answers per item realistic at this size.
            if p.items_per_skill > 1:
                p = replace(p, items_per_skill=int(max(3, min(p.items_per_skill, 40))))
            plist.append((f"like-{name}-{j}", p))
    plist += [(f"prior-{j}", sample_params(rng)) for j in range(n_prior)]
    courses, described = [], []
    for j, (name, p) in enumerate(plist):
        ds = simulate_course(p, students, seed * 10_000 + j, name=name)
        (tr, va), = split_by_student(ds, 5, seed=j)[:1]
        courses.append(TrainCourse(name, tr, va))
        described.append({"name": name, "students": students, "family": p.family,
                          "n_skills": p.n_skills, "items_per_skill": p.items_per_skill,
                          "interactions": ds.n_interactions})
    return courses, described


def fit_intervals(net: MetisNet, seed: int) -> dict:
    """Scale the mastery intervals to 95% coverage on simulated students of a bank served as
    a new course (ground truth known there); stored in the config (`interval_scale`)."""
    from meta_engine.data.simulate import StudentSimulator
    from meta_engine.model.intervals import (
        coverage,
        fit_interval_scale,
        simulate_truth,
        warm_tables,
    )
    from meta_engine.model.serving import Model

    model = Model(net.eval(), torch.device("cpu"), {}, "interval-fit")
    sim = StudentSimulator(200, 10, seed=seed)
    tables = warm_tables(model, sim, 150, seed + 500)
    cases = simulate_truth(sim, 150, (5, 20, 60), seed=seed + 1000)
    raw = coverage(model, cases, tables)
    net.cfg.interval_scale = fit_interval_scale(model, cases, tables=tables)
    return {"coverage_raw": raw, "interval_scale": net.cfg.interval_scale,
            "coverage_fitted": coverage(model, cases, tables), "cases": len(cases),
            "how": "StudentSimulator(200, 10) bank served as a new course: tables fitted "
                   "online from 150 students, then 150 fresh students with 5/20/60 answers"}


def build_default(out: Path, seed: int = 0, threads: int = 1, algo: str = "maml",
                  max_epochs: int = 20, students: int = 300, n_prior: int = 10,
                  n_per_fit: int = 4, fit_trials: int = 60, log: Any = None,
                  overrides: dict | None = None) -> Path:
    """Fit the simulator, simulate the courses, meta-train the core, write the checkpoint
    (weights.pt, config.json, model_card.json) into `out` (no version sub-directory)."""
    from meta_engine.checkpoint import save_checkpoint

    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    fits = fitted_params(seed, fit_trials, log)
    courses, described = default_courses(seed, n_prior, n_per_fit, students, fits)
    cfg = MetisConfig(n_items=0, n_skills=0, max_skills=4, algo=algo, max_epochs=max_epochs,
                      patience=3, seed=seed)
    for k, v in (overrides or {}).items():
        setattr(cfg, k, v)
    core, _, rep = train_courses(courses, cfg, "cpu", None, False, log)
    net = MetisNet(cfg)
    net.core.load_state_dict(core.state_dict())
    intervals = fit_intervals(net, seed)
    card = {
        "version": f"metis-core-sim-{algo}-s{seed}",
        "model": "Metis transferable core (no item or skill tables: every course it serves "
                 "fits its own online)",
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "trained_on": "simulated courses only (meta_engine.data.courses); no real answers",
        "redistribution": "contains no student data; the simulator was fitted to aggregate "
                          "statistics of the public ASSISTments 2009 and 2015 files (AKT "
                          "release), listed under simulator_fit",
        "courses": described,
        "simulator_fit": fits,
        "algo": algo,
        "valid": {"mean_course_auc": rep.valid_auc, "ece": rep.valid_ece,
                  "per_course_auc": rep.courses.get("valid_auc"), "epochs": rep.epochs,
                  "best_epoch": rep.best_epoch},
        "build": {"command": f"metis build-default --out {out} --seed {seed} --threads "
                             f"{threads} --algo {algo} --max-epochs {max_epochs} --students "
                             f"{students}", "seconds": round(time.perf_counter() - t0, 1),
                  "python": platform.python_version(), "torch": torch.__version__,
                  "threads": threads},
        "intervals": intervals,
        "intended_use": "adaptive practice in Metis for any course; probabilities calibrated "
                        "on simulated validation students",
    }
    return save_checkpoint(net, out, card, version=None, flat=True)
