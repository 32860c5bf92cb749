"""The small surface that workers and the benchmark use (keep these signatures stable).

    model = load_model(checkpoint_dir, device="auto")
    state = adapt(model, history)             # or adapt_batch(model, histories)
    probs = predict(model, state, items)
    plan  = select_practice_set(model, state, bank, settings, now, history)
    fb    = feedback(model, state, previous_state)

`default_model()` builds and trains a small model on simulated students in a few seconds
(cached per process) so the demo works without a checkpoint.
"""

from __future__ import annotations

import copy
import functools
import time
from typing import Any

import numpy as np
import torch

from meta_engine.checkpoint import load_checkpoint, save_checkpoint
from meta_engine.device import resolve_device
from meta_engine.model.runtime import (
    Mastery,
    Model,
    PreparedBank,
    StudentState,
    adapt,
    adapt_batch,
    mastery,
    predict,
    prepare_bank,
)
from meta_engine.practice.feedback import Feedback, SkillMastery, feedback
from meta_engine.practice.select import (
    PlannedItem,
    PracticePlan,
    PracticeSettings,
    select_practice_set,
)
from meta_engine.types import Dataset, Interaction, Item

__all__ = [
    "Feedback", "Mastery", "MetisMethod", "Model", "PlannedItem", "PracticePlan",
    "PracticeSettings", "PreparedBank", "SkillMastery", "StudentState", "adapt", "adapt_batch",
    "default_model", "feedback", "load_model", "mastery", "measure_latency",
    "measure_throughput", "predict", "prepare_bank", "save_model", "select_practice_set",
]


def load_model(checkpoint_dir: str, device: str = "auto") -> Model:
    """Load a checkpoint dir (or a parent with LATEST); weights_only, milliseconds."""
    dev = resolve_device(device)
    net, card, d = load_checkpoint(checkpoint_dir, dev)
    return Model(net, dev, card, card.get("version", d.name))


def save_model(model: Model, out: str, card: dict | None = None) -> str:
    return str(save_checkpoint(model.net, out, card or model.card))


@functools.lru_cache(maxsize=2)
def default_model(seed: int = 0) -> Model:
    """A small Metis model meta-trained on simulated students (about 2-5 s on one core).

    Its bank is StudentSimulator(200 items, 10 skills, seed=seed): the demo and
    `metis bench policy` use that same bank.
    """
    from meta_engine.data import simulate_students, split_by_student
    from meta_engine.train import meta_train

    ds = simulate_students(400, 200, 10, seed=seed)
    (train, valid), = split_by_student(ds, 5, seed=seed)[:1]
    net, rep = meta_train(train, valid, max_minutes=1.0, progress=False, max_epochs=12,
                          patience=3, seed=seed)
    net.eval()
    version = f"metis-default-sim{seed}"
    card: dict[str, Any] = {"version": version, "valid": rep.to_dict(),
                            "trained_on": f"simulate_students(400, 200, 10, seed={seed})"}
    model = Model(net, torch.device("cpu"), card, version)
    card["intervals"] = _fit_intervals(model, seed)
    return model


def _fit_intervals(model: Model, seed: int) -> dict:
    """Scale the mastery intervals to 95% coverage on fresh simulated students of the same
    bank (ground truth known there); stored in the config, so a saved checkpoint keeps it."""
    from meta_engine.data.simulate import StudentSimulator
    from meta_engine.model.intervals import coverage, fit_interval_scale, simulate_truth

    cases = simulate_truth(StudentSimulator(200, 10, seed=seed), 150, (5, 20, 60),
                           seed=seed + 1000)
    raw = coverage(model, cases)
    model.net.cfg.interval_scale = fit_interval_scale(model, cases)
    return {"coverage_raw": raw, "interval_scale": model.net.cfg.interval_scale,
            "coverage_fitted": coverage(model, cases), "cases": len(cases)}


class MetisMethod:
    """Metis as a benchmark `Method`: fit = meta-train, predict = strict prefix predictions."""

    name = "metis"

    def __init__(self, device: str = "auto", **opts: Any) -> None:
        self.device = resolve_device(device)
        self.opts = dict(opts)
        self.max_minutes = float(self.opts.pop("max_minutes", 20.0))
        self.progress = bool(self.opts.pop("progress", False))
        self.model: Model | None = None
        self.report: dict = {}

    def fit(self, train: Dataset, valid: Dataset) -> None:
        from meta_engine.train import meta_train

        net, rep = meta_train(train, valid, device=self.device, max_minutes=self.max_minutes,
                              progress=self.progress, **self.opts)
        net.eval()
        self.report = rep.to_dict()
        self.model = Model(net.to(self.device), self.device, {"valid": self.report},
                           f"metis-{net.cfg.algo}")

    def predict(self, data: Dataset) -> list[np.ndarray]:
        from meta_engine.train import predict_dataset

        if self.model is None:
            raise RuntimeError("MetisMethod.predict called before fit")
        return predict_dataset(self.model.net, data, self.device)


def _synthetic(model: Model, history_len: int, bank_size: int,
               seed: int = 0) -> tuple[list[Interaction], list[Item]]:
    rng = np.random.default_rng(seed)
    s, n = model.n_skills, max(model.n_items, 1)

    def item(i: int) -> Item:
        k = 1 + int(rng.random() < 0.2)
        return Item(i, tuple(sorted({int(x) for x in rng.integers(1, s + 1, size=k)})))

    bank = [item(int(i)) for i in rng.integers(1, n + 1, size=bank_size)]
    hist = [Interaction(it.id, it.skills, int(rng.random() < 0.65), float(t))
            for t, it in enumerate(bank[i] for i in rng.integers(0, bank_size, history_len))]
    return hist, bank


def synthetic_history(model: Model, history_len: int, seed: int = 0) -> list[Interaction]:
    """A random `history_len`-answer history over the model's items, for benchmarks."""
    return _synthetic(model, history_len, 200, seed=seed)[0]


def to_device(model: Model, device: str) -> Model:
    """The same model on another device (a copy of the weights there)."""
    dev = resolve_device(device)
    return Model(copy.deepcopy(model.net).to(dev), dev, model.card, model.version)


def measure_latency(model: Model, history_len: int = 50, bank_size: int = 1000,
                    threads: int = 1, n: int = 200) -> dict:
    """adapt + predict for one student on CPU with `threads` threads: p50/p99 in ms."""
    hist, bank = _synthetic(model, history_len, bank_size)
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for _ in range(5):  # warm-up (allocator, first-call dispatch)
            predict(model, adapt(model, hist), bank)
        ts = []
        for _ in range(n):
            t0 = time.perf_counter()
            predict(model, adapt(model, hist), bank)
            ts.append((time.perf_counter() - t0) * 1000)
    finally:
        torch.set_num_threads(old)
    return {"p50_ms": float(np.percentile(ts, 50)), "p99_ms": float(np.percentile(ts, 99)),
            "threads": threads, "history_len": history_len, "bank_size": bank_size}


def measure_throughput(model: Model, device: str = "auto", n_students: int = 512,
                       history_len: int = 50) -> dict:
    """Students adapted per second by one `adapt_batch` call (featurising included)."""
    m = to_device(model, device)
    hists = [synthetic_history(model, history_len, seed=i) for i in range(n_students)]
    adapt_batch(m, hists[:8])
    runs = []
    for _ in range(3):
        if m.device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        adapt_batch(m, hists)
        if m.device.type == "cuda":
            torch.cuda.synchronize()
        runs.append(time.perf_counter() - t0)
    return {"students_per_s": float(n_students / min(runs)), "device": str(m.device),
            "batch": n_students}
