"""`metis bench worker-batch`: the adapt worker's batched step without Redis or a database.

It times `MetaEngine.plan_batch` (what the adapt task calls for each claimed batch of grade
events: `meta_engine.serve.run_batch` per course) on synthetic
jobs, on the CPU or CUDA, so the worker's CUDA path can be proved and measured on a GPU machine
that runs nothing else of Metis.
"""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from lti_tool.core.activities import ActivitySettings
from meta_engine.bench.throughput import parse_sizes
from workers.engine_adapter import Answered, BankItem, Job, load_engine

N_SKILLS = 12


def synthetic_jobs(n: int, history_len: int, bank_size: int, seed: int = 0) -> list[Job]:
    rng = random.Random(seed)
    bank = tuple(
        BankItem(i, tuple(sorted({rng.randint(1, N_SKILLS) for _ in range(rng.choice((1, 1, 2)))})))
        for i in range(1, bank_size + 1)
    )
    now = datetime.now(UTC)
    names = {k: f"skill {k}" for k in range(1, N_SKILLS + 1)}
    settings = ActivitySettings(title="bench", bank="1", set_size=5)
    jobs = []
    for j in range(n):
        picks = [bank[rng.randrange(bank_size)] for _ in range(history_len)]
        history = tuple(
            Answered(b.item_id, b.skill_ids, rng.random() < 0.65,
                     now - timedelta(minutes=history_len - t))
            for t, b in enumerate(picks)
        )
        jobs.append(Job(f"bench-{j}", history, bank, settings, now, names, course="bench",
                        student=f"s{j}", since=max(history_len - 5, 0) or None))
    return jobs


def _timed(engine: Any, jobs: list[Job], repeats: int) -> dict[str, Any]:
    engine.plan_batch(jobs[: min(len(jobs), 4)])  # warm-up
    best = float("inf")
    adapt_ms = select_ms = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        plans = engine.plan_batch(jobs)
        took = time.perf_counter() - t0
        if took < best:
            best = took
            adapt_ms = sum(p.timings_ms.get("predict_update", 0.0) for p in plans)
            select_ms = sum(p.timings_ms.get("plan", 0.0) for p in plans)
    return {"batch": len(jobs), "events_per_s": round(len(jobs) / best, 1),
            "batch_ms": round(best * 1000, 1), "predict_update_ms": round(adapt_ms, 1),
            "select_and_feedback_ms": round(select_ms, 1)}


@click.command("worker-batch")
@click.option("--model", "model_dir", default=None, type=click.Path(exists=True),
              help="Checkpoint directory (default: the built-in model).")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--batches", default="1,16,64", show_default=True,
              help="Batch sizes (the worker claims at most 64 events per batch).")
@click.option("--history", "history_len", default=50, show_default=True, type=int)
@click.option("--bank", "bank_size", default=200, show_default=True, type=int)
@click.option("--repeats", default=3, show_default=True, type=int)
def worker_batch(model_dir: str | None, device: str, batches: str, history_len: int,
                 bank_size: int, repeats: int) -> None:
    """Time the adapt worker's batched step (predict, tables, adapt, select) as JSON."""
    sizes = parse_sizes(batches)
    t0 = time.perf_counter()
    engine: Any = load_engine(model_dir, device)
    load_ms = (time.perf_counter() - t0) * 1000
    runs = [_timed(engine, synthetic_jobs(b, history_len, bank_size, seed=b), repeats)
            for b in sizes]
    model = engine.model_for(None)
    click.echo(json.dumps({"device": str(model.device), "model": model.version,
                           "history_len": history_len, "bank_size": bank_size,
                           "load_ms": round(load_ms, 1), "runs": runs}, indent=2))
