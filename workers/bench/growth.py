"""`metis bench growth`: the adapt worker's step for one student as the student's history grows and
as the bank grows.

Each point times `MetaEngine.plan_batch` with one Job (what the adapt task calls per claimed
batch), for the history curve both from the student's resume point (what the worker does for a
student it served before) and from the whole history, on simulated data from
`workers.bench.batch.synthetic_jobs`, with the shipped default model on the CPU. Every repeat is
a new answer (a new event id) of the same student in the same course, as when the student keeps
answering, so the store applies each one; the first call of a point is a warm-up (course tables
created). The figure is the median over the repeats.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from lti_tool.core.gradebook.policies import mastery_by_skill
from meta_engine.bench.throughput import parse_sizes
from workers.bench.batch import synthetic_jobs
from workers.engine_adapter import Job, MetaEngine, event_of, load_engine


def resumed(engine: MetaEngine, job: Job) -> Job:
    """`job` as the worker has it from the student's resume point at the longest: just
    before the point moves on, when it leaves 2 x (window + KEEP_SLACK) - 1 answers after it
    (`meta_engine.serve.point_cut`)."""
    from meta_engine.model.resume import advance
    from meta_engine.serve import KEEP_SLACK

    keep = engine.model_for(None).net.cfg.window + KEEP_SLACK
    cut = max(len(job.history) - (2 * keep - 1), 0)
    if cut == 0:
        return job
    point = advance(None, event_of(job).history[:cut])
    return replace(job, history=job.history[cut:], earlier=point.to_dict(), earlier_n=cut)


def time_point(engine: MetaEngine, job: Job, repeats: int) -> dict[str, Any]:
    """Median ms of `repeats` steps for `job`'s student, with the engine's own stage split.
    The mastery the page showed at the start of the set is known, as the worker has it."""
    [warm] = engine.plan_batch([replace(job, event_id=f"{job.event_id}-warm")])
    job = replace(job, before=mastery_by_skill(warm.feedback), want_point=False)
    took: list[float] = []
    stages: dict[str, list[float]] = {}
    for n in range(repeats):
        one = replace(job, event_id=f"{job.event_id}-{n}")
        t0 = time.perf_counter()
        [plan] = engine.plan_batch([one])
        took.append((time.perf_counter() - t0) * 1000)
        for name, ms in plan.timings_ms.items():
            stages.setdefault(name, []).append(ms)
    return {"ms": round(statistics.median(took), 3), "min_ms": round(min(took), 3),
            "max_ms": round(max(took), 3),
            "stages_ms": {k: round(statistics.median(v), 3) for k, v in sorted(stages.items())}}


def curve(engine: MetaEngine, name: str, points: list[tuple[int, int]], repeats: int,
          seed: int, resume: bool = True) -> list[dict[str, Any]]:
    """One point per (history length, bank size); each in its own course, so one point's
    tables never make another's larger. `resume`: from the student's resume point, as the
    worker serves a student it served before; else from the whole history."""
    out = []
    for history_len, bank_size in points:
        [job] = synthetic_jobs(1, history_len, bank_size, seed=seed)
        tag = f"growth-{name}-{history_len}-{bank_size}-{'resumed' if resume else 'full'}"
        job = replace(job, course=tag, event_id=tag)
        if resume:
            job = resumed(engine, job)
        out.append({"history": history_len, "bank": bank_size,
                    "answers_read": len(job.history), **time_point(engine, job, repeats)})
    return out


def flatness(points: list[dict[str, Any]]) -> float:
    """The largest point's median over the smallest's: 1.0 is flat."""
    return round(points[-1]["ms"] / max(points[0]["ms"], 1e-9), 3)


def sizes(text: str, hint: str) -> list[int]:
    try:
        return parse_sizes(text)
    except click.BadParameter as exc:
        raise click.BadParameter(exc.message, param_hint=hint) from None


@click.command("growth")
@click.option("--histories", default="50,500,5000", show_default=True,
              help="answers in the student's history (bank fixed at --bank)")
@click.option("--banks", default="100,2000,20000", show_default=True,
              help="items in the bank (history fixed at --history)")
@click.option("--history", "fixed_history", default=50, show_default=True,
              type=click.IntRange(1, 1_000_000))
@click.option("--bank", "fixed_bank", default=200, show_default=True,
              type=click.IntRange(1, 1_000_000))
@click.option("--repeats", default=7, show_default=True, type=click.IntRange(1, 1000))
@click.option("--threads", default=1, show_default=True, type=click.IntRange(1, 256),
              help="torch threads (1: as an adapt worker pinned to one core)")
@click.option("--model", "model_dir", default=None, type=click.Path(exists=True),
              help="Checkpoint directory (default: the built-in model).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="write the figures here as JSON")
def growth(histories: str, banks: str, fixed_history: int, fixed_bank: int, repeats: int,
           threads: int, model_dir: str | None, json_out: Path | None) -> None:
    """One student's worker step (ms, median) vs history length and vs bank size, as JSON."""
    load = [round(x, 2) for x in os.getloadavg()]
    history_sizes, bank_sizes = sizes(histories, "--histories"), sizes(banks, "--banks")
    import torch

    torch.set_num_threads(threads)
    engine = load_engine(model_dir, "cpu")
    history_points = [(h, fixed_bank) for h in history_sizes]
    # Back to back on the same machine: the whole history read (as before resume points),
    # then from the point.
    full = curve(engine, "history", history_points, repeats, 1, resume=False)
    by_history = curve(engine, "history", history_points, repeats, 1)
    by_bank = curve(engine, "bank", [(fixed_history, b) for b in bank_sizes], repeats, 2)
    figures = {
        "history_curve": by_history, "bank_curve": by_bank, "history_curve_full": full,
        "history_growth_ratio": flatness(by_history), "bank_growth_ratio": flatness(by_bank),
        "history_growth_ratio_full": flatness(full),
        "config": {"repeats": repeats, "fixed_bank": fixed_bank, "fixed_history": fixed_history,
                   "model": engine.version, "device": "cpu", "torch_threads": threads,
                   "statistic": "median",
                   # The machine may be shared: how busy it was, and at what priority.
                   "loadavg_at_start": load, "nice": os.nice(0),
                   "command": "metis " + " ".join(sys.argv[1:])},
    }
    text = json.dumps(figures, indent=2)
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(text + "\n")
    click.echo(text)
