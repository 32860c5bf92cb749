"""The one place where the pipeline meets meta_engine: database rows in, JSON-ready plans out.

`Job` and `Plan` are plain data, so the pipeline's storage, batching and idempotency logic is
tested without knowing how the model works; `MetaEngine` runs them through `meta_engine.api`.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class Answered:
    item_id: int
    skill_ids: tuple[int, ...]
    correct: bool
    answered_at: datetime


@dataclass(frozen=True)
class BankItem:
    item_id: int
    skill_ids: tuple[int, ...]
    text: str = ""
    difficulty_prior: float | None = None


@dataclass(frozen=True)
class Job:
    """One grade event's work: the history up to and including its answer."""

    event_id: str
    history: tuple[Answered, ...]
    bank: tuple[BankItem, ...]
    settings: dict[str, Any]
    now: datetime


@dataclass
class Plan:
    items: list[dict[str, Any]]  # [{"item_id": int, "why": str, ...}]
    feedback: dict[str, Any]
    state: dict[str, Any]
    timings_ms: dict[str, float] = field(default_factory=dict)


class Engine(Protocol):
    version: str

    def plan_batch(self, jobs: list[Job]) -> list[Plan]: ...


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


class MetaEngine:
    """Adapts all students of a batch in one `adapt_batch` call, then selects per student."""

    def __init__(self, model: Any, version: str) -> None:
        self.model = model
        self.version = version

    def plan_batch(self, jobs: list[Job]) -> list[Plan]:
        from meta_engine import api
        from meta_engine.types import Interaction, Item

        def history(answers: tuple[Answered, ...]) -> list[Interaction]:
            return [
                Interaction(a.item_id, a.skill_ids, int(a.correct), a.answered_at.timestamp())
                for a in answers
            ]

        t0 = time.perf_counter()
        # The previous state (without the newest answer) feeds "what changed" in the feedback;
        # both are adapted in the same batched call.
        histories = [history(j.history) for j in jobs] + [history(j.history[:-1]) for j in jobs]
        states = api.adapt_batch(self.model, histories)
        adapt_ms = (time.perf_counter() - t0) * 1000 / max(len(jobs), 1)
        plans: list[Plan] = []
        for n, job in enumerate(jobs):
            t1 = time.perf_counter()
            bank = [
                Item(b.item_id, b.skill_ids, b.text, b.difficulty_prior) for b in job.bank
            ]
            state, previous = states[n], states[n + len(jobs)]
            plan = api.select_practice_set(
                self.model, state, bank, job.settings, job.now, histories[n]
            )
            fb = api.feedback(self.model, state, previous)
            select_ms = (time.perf_counter() - t1) * 1000
            plan_json = _jsonable(plan)
            items = plan_json.get("items", plan_json) if isinstance(plan_json, dict) else plan_json
            plans.append(
                Plan(
                    items=[_plan_item(i) for i in items],
                    feedback=_jsonable(fb),
                    state=_jsonable(state.to_dict() if hasattr(state, "to_dict") else state),
                    timings_ms={"adapt": adapt_ms, "select": select_ms},
                )
            )
        return plans


def _plan_item(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        item_id = raw.get("item_id", raw.get("item", raw.get("id")))
        if isinstance(item_id, dict):
            item_id = item_id.get("id")
        out = {k: v for k, v in raw.items() if k not in ("item", "id")}
        out["item_id"] = int(item_id)  # type: ignore[arg-type]
        return out
    return {"item_id": int(raw), "why": ""}


def load_engine(model_path: str | None, device: str, version: str) -> Engine:
    """Load a checkpoint (or meta_engine's default model when there is none) onto `device`.

    METIS_ENGINE_FACTORY="module:callable" replaces meta_engine with another engine taking the
    same arguments (the pipeline's fault tests use a deterministic one).
    """
    factory = os.environ.get("METIS_ENGINE_FACTORY")
    if factory:
        module, attr = factory.split(":")
        engine: Engine = getattr(importlib.import_module(module), attr)(model_path, device, version)
        return engine
    from meta_engine import api

    model = api.load_model(model_path, device) if model_path else api.default_model()
    return MetaEngine(model, version)
