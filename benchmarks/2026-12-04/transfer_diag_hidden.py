import sys, dataclasses
from pathlib import Path
import numpy as np, torch
torch.set_num_threads(1)
from meta_engine.bench.transfer import (load_fold, Dataset, schedule, serve_stream, score, core_config,
    train_core, simulated_courses, TrainCourse)
from meta_engine.checkpoint import save_checkpoint
from meta_engine.api import load_model
from meta_engine.types import Sequence
D = Path("/work/shared/data")
variant = sys.argv[1]  # hidden | both
n_src = int(sys.argv[2])
ck = Path(f"/tmp/diag/core_{variant}_{n_src}")
def hide(ds):
    seqs = [Sequence(s.student, np.zeros_like(s.items), s.skills, s.correct, s.timestamps) for s in ds.sequences]
    return Dataset(ds.name + "-skills", seqs, 0, ds.n_skills, {})
if not (ck / "config.json").exists():
    tr, va, _ = load_fold(D / "assist2009", 1)
    tr = Dataset(tr.name, tr.sequences[:n_src], tr.n_items, tr.n_skills, tr.item_skills)
    va = Dataset(va.name, va.sequences[:max(n_src // 4, 50)], va.n_items, va.n_skills, va.item_skills)
    src = [TrainCourse("assist2009-skills", hide(tr), hide(va))]
    if variant == "both":
        src.append(TrainCourse("assist2009", tr, va))
    sims = simulated_courses(8, 300, 0)
    cfg = core_config(max_epochs=20, seed=0, algo="maml", patience=3)
    model, card = train_core(src + sims, cfg, print, "diag")
    save_checkpoint(model.net, ck, card, model.version, flat=True)
m = load_model(str(ck), "cpu")
_, _, te = load_fold(D / "assist2015", 1)
test = Dataset(te.name, te.sequences[:300], te.n_items, te.n_skills, te.item_skills)
ticks = schedule([len(s) for s in test.sequences], 16)
c = m.core
print(variant, "w0", c.w0.data.tolist(), "att_out", c.att_out.weight.data.tolist())
sv = serve_stream(m, test, ticks, "assist2015")
r = score(sv.preds, test)
print(variant, n_src, "AUC", round(r["auc"], 4), "ECE", round(r["ece"], 4), {k: round(v["auc"], 4) for k, v in r["windows"].items()})
