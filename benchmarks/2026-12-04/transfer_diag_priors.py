"""Serving priors of the shipped core, tuned on VALIDATION students only (fold 1 valid)."""
import sys, copy
from pathlib import Path
import numpy as np, torch
torch.set_num_threads(1)
from meta_engine.bench.transfer import load_fold, Dataset, schedule, serve_stream, score
from meta_engine.api import default_model
from meta_engine.model.serving import Model
D = Path("/work/shared/data")
target = sys.argv[1]
n = int(sys.argv[2])
variants = [dict(), dict(prior_sd_slope=0.6), dict(prior_sd_skill=1.5), dict(prior_sd_bias=2.0), dict(prior_sd_item=1.5)]
_, va, _ = load_fold(D / target, 1)
data = Dataset(va.name, va.sequences[:n], va.n_items, va.n_skills, va.item_skills)
ticks = schedule([len(s) for s in data.sequences], 16)
base = default_model()
for v in variants:
    net = copy.deepcopy(base.net)
    for k, x in v.items():
        setattr(net.cfg, k, x)
    m = Model(net, base.device, base.card, base.version)
    r = score(serve_stream(m, data, ticks, target).preds, data)
    print(target, n, v, "AUC %.4f ECE %.4f" % (r["auc"], r["ece"]), {k: round(x["auc"], 4) for k, x in r["windows"].items()}, flush=True)
