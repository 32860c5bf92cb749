"""The small surface that workers and the benchmark use.

    model   = load_model(checkpoint_dir, device="auto")   # or default_model(): the shipped core
    results = run_batch(model, store, course, events)      # a batch of grade events (serve.py)

and the per-student functions underneath, all in the course's own ids:

    tables = course_tables(model, course, store.load((model.version, course)))
    state  = adapt(model, history, tables)             # or adapt_batch(model, histories, tables)
    probs  = predict(model, state, items, tables=tables)
    plan   = select_practice_set(model, state, bank, settings, now, history, tables=tables)
    fb     = feedback(model, state, state_at_previous_set, tables=tables)

Without `tables`, a call reads the model's own (trained) tables: empty for the shipped core.
`default_model()` loads the checkpoint shipped in the package (milliseconds); it never trains.
"""

from __future__ import annotations

import copy
import functools
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from meta_engine.checkpoint import load_checkpoint, save_checkpoint
from meta_engine.device import resolve_device
from meta_engine.model.serving import (
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
from meta_engine.model.tables import (
    CourseTables,
    InMemoryTableStore,
    TableDeltas,
    TableStore,
    TableUpdate,
)
from meta_engine.practice.feedback import Feedback, SkillMastery, feedback
from meta_engine.practice.select import (
    PlannedItem,
    PracticePlan,
    PracticeSettings,
    select_practice_set,
)
from meta_engine.serve import Event, EventResult, course_tables, run_batch, serve_batch
from meta_engine.types import Dataset, Interaction, Item

__all__ = [
    "CourseTables", "Event", "EventResult", "Feedback", "InMemoryTableStore", "Mastery",
    "MetisMethod", "Model", "PlannedItem", "PracticePlan", "PracticeSettings", "PreparedBank",
    "SkillMastery", "StudentState", "TableDeltas", "TableStore", "TableUpdate", "adapt",
    "adapt_batch", "course_tables", "default_model", "feedback", "load_model", "mastery",
    "measure_latency", "measure_throughput", "predict", "prepare_bank", "run_batch",
    "save_model", "select_practice_set", "serve_batch",
]

# The shipped core checkpoint (package data), rebuilt by `metis build-default`.
DEFAULT_DIR = Path(__file__).parent / "default_model"


def load_model(checkpoint_dir: str, device: str = "auto") -> Model:
    """Load a checkpoint dir (or a parent with LATEST); weights_only, milliseconds."""
    dev = resolve_device(device)
    net, card, d = load_checkpoint(checkpoint_dir, dev)
    return Model(net, dev, card, card.get("version", d.name))


def save_model(model: Model, out: str, card: dict | None = None) -> str:
    return str(save_checkpoint(model.net, out, card or model.card))


@functools.lru_cache(maxsize=2)
def default_model(device: str = "cpu") -> Model:
    """The core shipped with the package, trained on simulated courses only (see its model
    card): loaded, never trained. Every course it serves has its own tables, fitted online."""
    if not (DEFAULT_DIR / "config.json").exists():
        raise FileNotFoundError(f"no shipped checkpoint in {DEFAULT_DIR}; rebuild it with "
                                "`metis build-default`")
    return load_model(str(DEFAULT_DIR), device)


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
    """A random history and bank over the model's own items and skills (10 skills for a
    model without tables). Each question of the bank has its own id, as in a real bank (ids
    drawn from the model's items, or from 1..max(200, bank_size) for a model without)."""
    rng = np.random.default_rng(seed)
    s = model.net.tables.n_skills or 10
    n = max(model.n_items or 200, bank_size)

    def item(i: int) -> Item:
        k = 1 + int(rng.random() < 0.2)
        return Item(i, tuple(sorted({int(x) for x in rng.integers(1, s + 1, size=k)})))

    bank = [item(int(i) + 1) for i in rng.choice(n, size=bank_size, replace=False)]
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
                    threads: int = 1, n: int = 200, tables: CourseTables | None = None
                    ) -> dict:
    """adapt + select_practice_set for one student on CPU with `threads` threads (the bank
    prepared once, as a worker does per batch): p50/p99 in ms."""
    hist, bank = _synthetic(model, history_len, bank_size)
    pb = prepare_bank(model, bank)
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    now = float(len(hist)) + 1e5

    def once() -> None:
        select_practice_set(model, adapt(model, hist, tables), pb, None, now, hist,
                            tables=tables)

    try:
        for _ in range(5):  # warm-up (allocator, first-call dispatch)
            once()
        ts = []
        for _ in range(n):
            t0 = time.perf_counter()
            once()
            ts.append((time.perf_counter() - t0) * 1000)
    finally:
        torch.set_num_threads(old)
    return {"p50_ms": float(np.percentile(ts, 50)), "p99_ms": float(np.percentile(ts, 99)),
            "threads": threads, "history_len": history_len, "bank_size": bank_size,
            "what": "adapt + select_practice_set"}


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
