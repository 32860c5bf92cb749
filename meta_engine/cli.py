"""Click commands mounted by the root `metis` CLI: `metis train`, `metis build-default` and
`metis bench policy`."""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

import click


@click.command("train")
@click.option("--data", "data", required=True, type=click.Path(exists=True, file_okay=False),
              help="Directory with *_train{K}/_valid{K}/_test{K} files.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False),
              help="Checkpoint root; a versioned sub-directory is written and LATEST updated.")
@click.option("--fold", default=1, show_default=True, type=int)
@click.option("--algo", default="maml", show_default=True,
              type=click.Choice(["metasgd", "maml", "fomaml", "reptile"]))
@click.option("--device", default="auto", show_default=True)
@click.option("--max-minutes", default=20.0, show_default=True, type=float)
@click.option("--threads", default=None, type=int, help="CPU threads (default: METIS_THREADS).")
@click.option("--compare/--no-compare", default=False, show_default=True,
              help="Also meta-train the other algorithms briefly and record the comparison.")
@click.option("--compare-minutes", default=2.0, show_default=True, type=float)
@click.option("--test/--no-test", "eval_test", default=True, show_default=True,
              help="Evaluate on the fold's test students and put it in the model card.")
def train(data: str, out: str, fold: int, algo: str, device: str, max_minutes: float,
          threads: int | None, compare: bool, compare_minutes: float, eval_test: bool) -> None:
    """Meta-train Metis on one fold, early-stopped and calibrated on its validation students."""
    from meta_engine.checkpoint import save_checkpoint
    from meta_engine.data import load_fold
    from meta_engine.device import resolve_device
    from meta_engine.metrics import evaluate
    from meta_engine.train import compare_algorithms, meta_train, predict_dataset

    dev = resolve_device(device, threads)
    tr, va, te = load_fold(Path(data), fold)
    t0 = time.perf_counter()
    net, rep = meta_train(tr, va, device=dev, max_minutes=max_minutes, progress=True,
                          algo=algo)
    card: dict = {
        "model": "Metis meta-learned student model", "algo": algo, "data": str(data),
        "fold": fold, "train_students": len(tr.sequences), "valid": rep.to_dict(),
        "train_seconds": time.perf_counter() - t0, "device": str(dev),
        "python": platform.python_version(),
        "intended_use": "adaptive practice in Metis; probabilities calibrated on valid",
    }
    if eval_test:
        net.to(dev)
        card["test"] = evaluate(predict_dataset(net, te, dev), te)
        net.cpu()
    if compare:
        algos = ("metasgd", "maml", "fomaml", "reptile")
        card["algorithm_comparison"] = compare_algorithms(
            tr, va, algos, minutes_each=compare_minutes, device=str(dev))
    else:
        # The comparison recorded with the code (ASSIST2009 fold 1), so every card carries it.
        rec = Path(__file__).parent / "meta" / "algorithm_comparison.json"
        if rec.exists():
            card["algorithm_comparison"] = {"recorded": json.loads(rec.read_text())}
    path = save_checkpoint(net, out, card)
    click.echo(json.dumps({"checkpoint": str(path), "valid_auc": rep.valid_auc,
                           "valid_ece": rep.valid_ece, "test": card.get("test")}, default=float))


@click.command("policy")
@click.option("--model", "model_dir", default=None, type=click.Path(),
              help="Checkpoint dir trained on the simulator's bank; default: built-in model.")
@click.option("--students", default=30, show_default=True, type=int)
@click.option("--sets", default=5, show_default=True, type=int)
@click.option("--set-size", default=5, show_default=True, type=int)
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--threads", default=1, show_default=True, type=int)
def policy(model_dir: str | None, students: int, sets: int, set_size: int, seed: int,
           threads: int) -> None:
    """Compare practice policies on simulated students (true mastery gain); prints JSON."""
    import torch

    from meta_engine.api import default_model, load_model
    from meta_engine.practice.simulate import compare_policies

    torch.set_num_threads(threads)
    model = load_model(model_dir, "cpu") if model_dir else default_model()
    res = compare_policies(model, n_students=students, n_sets=sets, set_size=set_size,
                           seed=seed)
    json.dump(res, sys.stdout, indent=2)
    sys.stdout.write("\n")


@click.command("build-default")
@click.option("--out", "out", default=None, type=click.Path(file_okay=False),
              help="Where to write the checkpoint (default: the package's default_model/).")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--threads", default=1, show_default=True, type=int,
              help="torch CPU threads (the build is reproducible for a given seed and count).")
@click.option("--algo", default="maml", show_default=True,
              type=click.Choice(["metasgd", "maml", "fomaml", "reptile", "proto"]))
@click.option("--max-epochs", default=20, show_default=True, type=int)
@click.option("--students", default=300, show_default=True, type=int,
              help="Simulated students per course.")
@click.option("--prior-courses", default=10, show_default=True, type=int,
              help="Courses drawn from the broad prior over courses.")
@click.option("--fit-courses", default=4, show_default=True, type=int,
              help="Courses around each simulator fitted to a public dataset's statistics.")
@click.option("--fit-trials", default=60, show_default=True, type=int)
def build_default_cmd(out: str | None, seed: int, threads: int, algo: str, max_epochs: int,
                      students: int, prior_courses: int, fit_courses: int,
                      fit_trials: int) -> None:
    """Rebuild the shipped core checkpoint from simulated courses only (no real answers)."""
    from meta_engine.api import DEFAULT_DIR
    from meta_engine.default_build import build_default

    path = build_default(Path(out) if out else DEFAULT_DIR, seed=seed, threads=threads,
                         algo=algo, max_epochs=max_epochs, students=students,
                         n_prior=prior_courses, n_per_fit=fit_courses, fit_trials=fit_trials,
                         log=lambda m: click.echo(m, err=True))
    card = json.loads((Path(path) / "model_card.json").read_text())
    click.echo(json.dumps({"checkpoint": str(path), "version": card["version"],
                           "valid": card["valid"], "seconds": card["build"]["seconds"]}))
