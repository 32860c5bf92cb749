"""`metis bench throughput`: batched adaptation (students/s) on CPU or CUDA, per batch size.

This is the workers' hot path: a batch of grade events becomes one `adapt_batch` call. The
report splits each call into CPU featurisation and the device part (padding, one copy to the
device, the shared network, the vmapped inner steps, the Laplace variances, the copy back), so a
GPU figure can be read against what the CPU side of the worker can feed it.
"""

from __future__ import annotations

import json
import platform
import time
from typing import Any

import click
import torch

from meta_engine import api
from meta_engine.model import serving


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def measure(model: api.Model, batch: int, history_len: int, repeats: int) -> dict[str, Any]:
    """Best of `repeats`: the whole `adapt_batch` call, and its two parts timed on their own
    (CPU featurisation; padding + transfer + shared network + inner steps + copy back)."""
    dev = model.device
    hists = [api.synthetic_history(model, history_len, seed=i) for i in range(batch)]
    [len(h) for h in hists]
    api.adapt_batch(model, hists[: min(batch, 8)])  # warm-up: allocator, kernels, vmap tracing
    total, feat, device_part = [], [], []
    for _ in range(repeats):
        _sync(dev)
        t0 = time.perf_counter()
        api.adapt_batch(model, hists)
        _sync(dev)
        total.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        windows = serving._windows(model, hists)
        feat.append(time.perf_counter() - t0)
        _sync(dev)
        t0 = time.perf_counter()
        serving.adapt_windows(model, windows)
        _sync(dev)
        device_part.append(time.perf_counter() - t0)
    return {"batch": batch, "students_per_s": round(batch / min(total), 1),
            "call_ms": round(min(total) * 1000, 2), "featurise_ms": round(min(feat) * 1000, 2),
            "device_part_ms": round(min(device_part) * 1000, 2),
            "device_part_students_per_s": round(batch / min(device_part), 1)}


def parse_sizes(text: str) -> list[int]:
    """"64,512" -> [64, 512]; click.BadParameter on anything else."""
    try:
        sizes = [int(b) for b in text.split(",") if b.strip()]
    except ValueError:
        raise click.BadParameter("a comma-separated list of integers",
                                 param_hint="--batches") from None
    if not sizes or min(sizes) < 1:
        raise click.BadParameter("batch sizes must be positive", param_hint="--batches")
    return sizes


@click.command("throughput")
@click.option("--model", "model_dir", default=None, type=click.Path(exists=True),
              help="Checkpoint directory (default: the built-in model trained on simulated "
                   "students; its size differs from a model trained on real data).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True)
@click.option("--batches", default="64,512,4096", show_default=True)
@click.option("--history", "history_len", default=50, show_default=True, type=int)
@click.option("--repeats", default=3, show_default=True, type=int)
@click.option("--threads", default=None, type=int, help="CPU threads (default: all cores).")
def throughput(model_dir: str | None, device: str, batches: str, history_len: int,
               repeats: int, threads: int | None) -> None:
    """Batched adaptation throughput (students/s) for several batch sizes, as JSON."""
    sizes = parse_sizes(batches)
    if threads:
        torch.set_num_threads(threads)
    t0 = time.perf_counter()
    model = api.load_model(model_dir, device) if model_dir else api.default_model()
    if not model_dir and device != "cpu":
        model = api.to_device(model, device)
    load_ms = (time.perf_counter() - t0) * 1000
    dev = model.device
    report = {
        "device": str(dev),
        "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else
        platform.processor() or platform.machine(),
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "model": model.version, "n_items": model.n_items, "n_skills": model.n_skills,
        "history_len": history_len, "load_ms": round(load_ms, 1),
        "runs": [measure(model, b, history_len, repeats) for b in sizes],
    }
    click.echo(json.dumps(report, indent=2))
