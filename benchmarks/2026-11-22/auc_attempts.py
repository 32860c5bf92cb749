"""Exploration (not part of Metis): variants and seed ensembles on ASSIST2009, GPU."""
import json, sys, time
from pathlib import Path
import numpy as np
import torch
import torch.multiprocessing as mp

VARIANTS = {
    "s0": {"seed": 0}, "s1": {"seed": 1}, "s2": {"seed": 2},
    "hidden32": {"hidden": 32}, "attn32h32": {"attn_dim": 32, "hidden": 32},
    "patience5": {"patience": 5}, "lr5e-3": {"lr": 5e-3}, "rank16": {"rank": 16},
}
JOBS = [(n, 1) for n in VARIANTS] + [(n, 2) for n in ("s0", "s1", "s2")]


def run(job):
    name, fold = job
    from meta_engine.data import load_fold
    from meta_engine.train import meta_train, predict_dataset
    from meta_engine.metrics import evaluate
    torch.set_num_threads(1)
    tr, va, te = load_fold(Path(".devdata/assist2009"), fold)
    t0 = time.time()
    net, rep = meta_train(tr, va, device="cuda", max_minutes=7, progress=False, **VARIANTS[name])
    p = predict_dataset(net, te, "cuda")
    ev = evaluate(p, te)
    print(name, fold, round(rep.valid_auc, 4), round(ev["auc"], 4), round(time.time() - t0), flush=True)
    return name, fold, rep.valid_auc, ev, p


def logit(p):
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


if __name__ == "__main__":
    from meta_engine.data import load_fold
    from meta_engine.metrics import evaluate
    ctx = mp.get_context("spawn")
    with ctx.Pool(len(JOBS)) as pool:
        res = pool.map(run, JOBS)
    out = {}
    for name, fold, vauc, ev, _ in res:
        out[f"{name}_f{fold}"] = {"valid_auc": vauc, "test_auc": ev["auc"], "ece": ev["ece"],
                                  "windows": {k: v["auc"] for k, v in ev["windows"].items()}}
    preds = {(n, f): p for n, f, _, _, p in res}
    for fold, names in ((1, ["s0", "s1", "s2"]), (2, ["s0", "s1", "s2"]),
                        (1, list(VARIANTS))):
        te = load_fold(Path(".devdata/assist2009"), fold)[2]
        avg = [1 / (1 + np.exp(-np.mean([logit(preds[(n, fold)][i]) for n in names], axis=0)))
               for i in range(len(te.sequences))]
        ev = evaluate(avg, te)
        out[f"ens_{'+'.join(names)}_f{fold}"] = {"test_auc": ev["auc"], "ece": ev["ece"],
                                                "windows": {k: v["auc"] for k, v in ev["windows"].items()}}
    print(json.dumps(out, indent=1))
    Path(sys.argv[1]).write_text(json.dumps(out, indent=1))
