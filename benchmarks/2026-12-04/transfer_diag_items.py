"""Why a core trained on ASSIST2009 (+ sims) transfers badly to ASSIST2015."""
import json, sys, time
from pathlib import Path
import numpy as np, torch
torch.set_num_threads(1)
from meta_engine.bench.transfer import (load_fold, Dataset, schedule, serve_stream, score, core_config,
    train_core, simulated_courses, TrainCourse)
from meta_engine.checkpoint import save_checkpoint
from meta_engine.api import load_model, default_model
D = Path("/work/shared/data")
out = Path("/tmp/diag")
ck = out / "core2009"
if not (ck / "config.json").exists():
    tr, va, _ = load_fold(D / "assist2009", 1)
    tr = Dataset(tr.name, tr.sequences[:1000], tr.n_items, tr.n_skills, tr.item_skills)
    va = Dataset(va.name, va.sequences[:250], va.n_items, va.n_skills, va.item_skills)
    sims = simulated_courses(8, 300, 0)
    cfg = core_config(max_epochs=20, seed=0, algo="maml", patience=3)
    model, card = train_core([TrainCourse("assist2009", tr, va)] + sims, cfg, print, "diag")
    save_checkpoint(model.net, ck, card, model.version, flat=True)
m09 = load_model(str(ck), "cpu")
md = default_model()
_, _, te = load_fold(D / "assist2015", 1)
test = Dataset(te.name, te.sequences[:300], te.n_items, te.n_skills, te.item_skills)
ticks = schedule([len(s) for s in test.sequences], 16)
for name, m in (("default", md), ("core2009", m09)):
    c = m.core
    print(name, "calib", float(c.calib_a), float(c.calib_b), "w0", c.w0.data.tolist(), "theta0", float(c.theta0), "alpha0", float(c.alpha0),
          "glob", [round(x, 3) for x in c.glob.weight.data[0].tolist()], "att_out", c.att_out.weight.data.tolist())
    sv = serve_stream(m, test, ticks, "assist2015")
    r = score(sv.preds, test)
    print(name, "AUC", round(r["auc"], 4), {k: round(v["auc"], 4) for k, v in r["windows"].items()})
    # first-answer predictions: spread
    p1 = np.array([p[0] for p in sv.preds if len(p)])
    print(name, "first-answer p: mean %.3f sd %.3f" % (p1.mean(), p1.std()))
