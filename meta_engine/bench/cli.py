"""`engine` click command (wired as `metis bench engine`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from meta_engine.bench.engine import METHODS, parse_folds, run_engine_bench


@click.command("engine")
@click.option("--data", "data", required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Directory with *_train{k} / *_valid{k} / *_test{k} files.")
@click.option("--folds", default="1-5", show_default=True, help='e.g. "1", "1-3", "1,4".')
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True)
@click.option("--methods", default=",".join(METHODS), show_default=True,
              help="Comma-separated method names.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Also write the report here.")
@click.option("--max-students", type=click.IntRange(min=1), default=None,
              help="Subsample each split to at most N students (labelled in the report).")
@click.option("--dkt-epochs", type=click.IntRange(min=1), default=None,
              help="Cap DKT epochs (quick runs).")
@click.option("--leak-check/--no-leak-check", default=True, show_default=True,
              help="Re-predict 100 test students with flipped answers to verify no peeking.")
@click.option("--skill-map", "skill_map", type=click.Path(exists=True, dir_okay=False,
                                                           path_type=Path), default=None,
              help="Question-to-skill map (JSON or 'question,skill[,skill]' lines) for files "
                   "that carry question ids only.")
def engine(data: Path, folds: str, device: str, methods: str, json_out: Path | None,
           max_students: int | None, dkt_epochs: int | None, leak_check: bool,
           skill_map: Path | None) -> None:
    """Benchmark Metis and the baselines on the same folds under the strict protocol."""
    try:
        fold_list = parse_folds(folds)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--folds") from None
    names = [m.strip() for m in methods.split(",") if m.strip()]
    unknown = [m for m in names if m not in METHODS]
    if unknown:
        raise click.BadParameter(f"unknown {unknown}; known: {', '.join(METHODS)}",
                                 param_hint="--methods")
    opts = {"dkt": {"max_epochs": dkt_epochs}} if dkt_epochs else None
    from meta_engine.data import load_skill_map

    report = run_engine_bench(
        data, fold_list, device, names, json_out, max_students=max_students,
        method_opts=opts, leak_check=leak_check, log=lambda msg: click.echo(msg, err=True),
        skill_map=load_skill_map(skill_map) if skill_map else None,
    )
    click.echo(json.dumps(report, indent=2))
    sys.stdout.flush()
