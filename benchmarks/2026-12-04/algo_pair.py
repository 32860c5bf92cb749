"""MAML against first-order MAML on the transfer bench, paired: both cores (one seed) serve the
same stream (the first N fold-1 test students of TARGET, default assist2009, as a new course),
and the AUC difference is bootstrapped over students.

Run: .venv/bin/python benchmarks/2026-12-04/algo_pair.py SEED N OUT.json [TARGET]
(the bench's own functions: `meta_engine.bench.transfer`; 8 simulated courses of 300 students,
20 epochs at most, patience 3, 1 torch thread, as `metis bench transfer` trains its cores)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from meta_engine.bench.transfer import (
    core_config,
    load_fold,
    paired_bootstrap,
    schedule,
    score,
    serve_stream,
    simulated_courses,
    train_core,
)
from meta_engine.types import Dataset

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def main(seed: int, n: int, out: Path, target: str = "assist2009") -> dict:
    torch.set_num_threads(1)
    _, _, te = load_fold(DATA / target, 1)
    test = Dataset(te.name, te.sequences[:n], te.n_items, te.n_skills, te.item_skills)
    ticks = schedule([len(s) for s in test.sequences], 16)
    sims = simulated_courses(8, 300, seed)
    preds, report = {}, {"seed": seed, "students": n, "target": target, "methods": {}}
    for algo in ("maml", "fomaml"):
        cfg = core_config(max_epochs=20, seed=seed, algo=algo, patience=3)
        model, card = train_core(sims, cfg, None, "pair")
        served = serve_stream(model, test, ticks, target)
        res = score(served.preds, test)
        preds[algo] = served.preds
        report["methods"][algo] = {"auc": res["auc"], "ece": res["ece"],
                                   "windows": {k: v["auc"] for k, v in res["windows"].items()},
                                   "best_epoch": card["report"].get("best_epoch")}
    report["fomaml_minus_maml"] = paired_bootstrap(preds["fomaml"], preds["maml"], test,
                                                   seed=seed)
    out.write_text(json.dumps(report, indent=2, default=float) + "\n")
    return report


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]),
                          *sys.argv[4:5]), default=float))
