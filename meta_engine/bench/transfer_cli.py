"""`transfer` click command (to be wired as `metis bench transfer`)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from meta_engine.meta.algorithms import ALGORITHMS


def _dirs(text: str) -> list[Path]:
    out = []
    for part in text.split(","):
        p = Path(part.strip())
        if part.strip():
            if not p.is_dir():
                raise click.BadParameter(f"{p} is not a directory", param_hint="--train")
            out.append(p)
    return out


@click.command("transfer")
@click.option("--train", "train", default="", show_default=True,
              help="Comma-separated dataset directories the core is trained on (besides the "
                   "simulated courses); never the target.")
@click.option("--target", "target", required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Dataset directory whose test students are served as a new course.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Also write the report here.")
@click.option("--fold", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--students", default=800, show_default=True, type=click.IntRange(min=0),
              help="Serve the first N test students (0 = all).")
@click.option("--algos", default="maml", show_default=True,
              help="Comma-separated meta-learning algorithms, one core each "
                   f"({', '.join(ALGORITHMS)}).")
@click.option("--baselines", default="elo,pfa", show_default=True)
@click.option("--default/--no-default", "with_default", default=True, show_default=True,
              help="Also serve the shipped default core.")
@click.option("--in-domain/--no-in-domain", default=True, show_default=True,
              help="Also train and serve the in-domain model of the target (reference).")
@click.option("--sim-courses", default=8, show_default=True, type=click.IntRange(min=0))
@click.option("--sim-students", default=300, show_default=True, type=click.IntRange(min=20))
@click.option("--concurrency", default=16, show_default=True, type=click.IntRange(min=1),
              help="Students answering at the same time (one batch per tick).")
@click.option("--plan-every", default=10, show_default=True, type=click.IntRange(min=0),
              help="Plan a next set for every N-th student's events (0 = predictions only).")
@click.option("--max-epochs", default=20, show_default=True, type=click.IntRange(min=1))
@click.option("--source-students", default=None, type=click.IntRange(min=20),
              help="Subsample each training dataset (quick runs; labelled in the report).")
@click.option("--skill-map", "skill_map", type=click.Path(exists=True, dir_okay=False,
                                                           path_type=Path), default=None,
              help="Question-to-skill map (JSON or 'question,skill[,skill]' lines) for files "
                   "that carry question ids only.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--threads", default=None, type=int, help="torch CPU threads.")
def transfer(train: str, target: Path, json_out: Path | None, fold: int, students: int,
             algos: str, baselines: str, with_default: bool, in_domain: bool, sim_courses: int,
             sim_students: int, concurrency: int, plan_every: int, max_epochs: int,
             source_students: int | None, skill_map: Path | None, seed: int,
             threads: int | None) -> None:
    """Serve a dataset's test students as a course the model never saw (strictly causal)."""
    import torch

    from meta_engine.bench.transfer import run_transfer_bench
    from meta_engine.data import load_skill_map

    if threads:
        torch.set_num_threads(threads)
    names = [a.strip() for a in algos.split(",") if a.strip()]
    bad = [a for a in names if a not in ALGORITHMS]
    if bad:
        raise click.BadParameter(f"unknown {bad}; known: {', '.join(ALGORITHMS)}",
                                 param_hint="--algos")
    base = [b.strip() for b in baselines.split(",") if b.strip()]
    if any(b not in ("elo", "pfa") for b in base):
        raise click.BadParameter("known baselines: elo, pfa", param_hint="--baselines")
    dirs = _dirs(train)
    if any(d.resolve() == target.resolve() for d in dirs):
        raise click.BadParameter("the target must not be among --train", param_hint="--train")
    report = run_transfer_bench(
        dirs, target, fold=fold, students=students, algos=names, baselines=base,
        default=with_default, in_domain=in_domain, sim_courses=sim_courses,
        sim_students=sim_students, concurrency=concurrency, plan_every=plan_every,
        skill_map=load_skill_map(skill_map) if skill_map else None, max_epochs=max_epochs,
        seed=seed, source_students=source_students, json_out=json_out,
        log=lambda m: click.echo(m, err=True))
    ctx = click.get_current_context()
    report["options"] = {k: (str(v) if isinstance(v, Path) else v)
                         for k, v in ctx.params.items()}
    if json_out is not None:
        json_out.write_text(json.dumps(report, indent=2, default=float))
    click.echo(json.dumps(report, indent=2, default=float))
