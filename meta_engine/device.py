"""Where the model runs: one place that picks the torch device and pins CPU threads."""

from __future__ import annotations

import os

import torch


def set_threads(threads: int | None = None) -> int:
    """Pin torch's intra-op threads; from the argument, else METIS_THREADS, else leave as is.

    Workers share a machine with web processes, so an unpinned torch (one thread per core)
    would oversubscribe it; the benchmark pins 1 thread to measure per-request latency.
    """
    if threads is None:
        env = os.environ.get("METIS_THREADS")
        threads = int(env) if env else None
    if threads is not None and threads > 0:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def resolve_device(device: str | torch.device = "auto", threads: int | None = None) -> torch.device:
    """Map "auto" | "cpu" | "cuda[:n]" to a torch.device; "auto" takes CUDA when present.

    Asking for CUDA on a machine without it is an error rather than a silent CPU fallback,
    because a worker configured for a GPU that runs on CPU is a deployment bug.
    """
    name = str(device)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but torch.cuda.is_available() is False")
    if dev.type == "cpu":
        set_threads(threads)
    return dev
