"""The one place where the pipeline meets meta_engine: database rows in, JSON-ready plans out.

`Job` and `Plan` are plain data, so the pipeline's storage, batching and idempotency logic is
tested without knowing how the model works; `MetaEngine` runs them through `meta_engine.api`.
"""

from __future__ import annotations

import dataclasses
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from lti_tool.core.activities import ActivitySettings


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
    settings: ActivitySettings
    now: datetime
    skill_names: dict[int, str] = field(default_factory=dict)  # for the texts the student reads
    bank_id: int = 0  # keys the online item-difficulty estimates


@dataclass
class Plan:
    items: list[dict[str, Any]]  # [{"item_id": int, "why": str, ...}]
    feedback: dict[str, Any]
    timings_ms: dict[str, float] = field(default_factory=dict)


class Engine(Protocol):
    version: str

    def plan_batch(self, jobs: list[Job]) -> list[Plan]: ...


def _jsonable(value: Any) -> Any:
    # Scalars first: a plan's state holds thousands of them, and this runs for every event.
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


DEFAULT_CHECKPOINT = "default-model"

# Set in the card of a checkpoint trained on this database's ids (workers.maintenance), so
# its item residuals and skill slots mean our Items and Skills.
DB_ID_SPACE = "metis-db"


@dataclass(frozen=True)
class IdMap:
    """Our Item/Skill ids <-> the model's vocabulary.

    A model trained elsewhere (the built-in default on simulated students) knows other items:
    our item ids are shifted past its vocabulary, so each is "unseen" (placed from its skills)
    yet still distinct for the per-item history features; our skills are folded onto its skill
    slots in a stable order per bank.
    """

    item_offset: int
    skill_to_model: dict[int, int]
    model_to_skill: dict[int, int]

    @classmethod
    def for_bank(cls, model: Any, bank: tuple[BankItem, ...]) -> IdMap:
        if model.card.get("id_space") == DB_ID_SPACE:
            return cls(0, {}, {})
        n_slots = max(int(model.n_skills), 1)
        ours = sorted({k for b in bank for k in b.skill_ids})
        to_model = {k: n % n_slots + 1 for n, k in enumerate(ours)}
        back: dict[int, int] = {}
        for k, slot in to_model.items():
            back.setdefault(slot, k)
        return cls(int(model.n_items), to_model, back)

    def item(self, item_id: int) -> int:
        return item_id + self.item_offset

    def skills(self, skill_ids: tuple[int, ...]) -> tuple[int, ...]:
        if not self.skill_to_model:
            return skill_ids
        slots = {self.skill_to_model[k] for k in skill_ids if k in self.skill_to_model}
        return tuple(sorted(slots))

    def our_item(self, model_item: int) -> int:
        return model_item - self.item_offset

    def our_skill(self, slot: int) -> int:
        return self.model_to_skill.get(slot, slot) if self.model_to_skill else slot

    def named(self, text: str, names: dict[int, str]) -> str:
        """meta_engine's texts say "skill 3" (its slot); the student reads our skill's name."""
        def name(m: re.Match[str]) -> str:
            return names.get(self.our_skill(int(m.group(1))), m.group(0))

        return _SKILL_REF.sub(name, text)


_SKILL_REF = re.compile(r"\b[Ss]kill (\d+)\b")


def practice_settings(settings: ActivitySettings) -> Any:
    """The activity's settings in meta_engine's terms: the set's size and the target band."""
    from meta_engine.api import PracticeSettings

    return PracticeSettings(n_items=settings.set_size, band=settings.band)


def _skill_name(skill: int, names: dict[int, str]) -> str:
    return names.get(skill, f"skill {skill}")


def _our_detail(m: IdMap, detail: dict[str, Any], names: dict[int, str],
                item_skills: tuple[int, ...] | None = None) -> dict[str, Any]:
    """meta_engine's `detail` numbers with its skill slots turned into our skill ids, and
    their names beside them, for the page's own sentences. For a planned item,
    `item_skills` are its own skills: with a model that folds several of our skills onto one
    slot, the slot alone would name another skill of the bank."""
    d = _jsonable(dict(detail))

    def ours(slot: int) -> int:
        mine = [k for k in item_skills or () if m.skill_to_model.get(k, k) == slot]
        return mine[0] if mine else m.our_skill(slot)

    if "skills" in d:
        d["skills"] = (list(item_skills) if item_skills is not None
                       else [m.our_skill(int(k)) for k in d["skills"]])
        # None for a skill without a name: the page says it in its own words.
        d["skill_names"] = [names.get(k) for k in d["skills"]]
    if "skill" in d:
        d["skill"] = ours(int(d["skill"]))
        d["skill_name"] = names.get(d["skill"])
    if "moved" in d:
        d["moved"] = [m.our_skill(int(k)) for k in d["moved"]]
    if isinstance(d.get("next"), dict):
        d["next"] = _our_detail(m, d["next"], names)
    return d


class MetaEngine:
    """Adapts all students of a batch in one `adapt_batch` call, then selects per student."""

    def __init__(self, model: Any, version: str, calibration: Any = None) -> None:
        self.model = model
        self.version = version
        # workers.calibration_store.ItemCalibrationStore, or None: no online calibration.
        self.calibration = calibration

    def plan_batch(self, jobs: list[Job]) -> list[Plan]:
        from meta_engine import api
        from meta_engine.types import Interaction, Item

        # Jobs of one activity share their bank tuple: map it (and its ids) once per batch.
        map_of: dict[int, IdMap] = {}
        bank_of: dict[int, api.PreparedBank] = {}
        skills_by_bank: dict[int, dict[int, tuple[int, ...]]] = {}
        for j in jobs:
            if id(j.bank) not in map_of:
                skills_by_bank[id(j.bank)] = {b.item_id: tuple(b.skill_ids) for b in j.bank}
                m = map_of[id(j.bank)] = IdMap.for_bank(self.model, j.bank)
                bank_of[id(j.bank)] = api.prepare_bank(self.model, [
                    Item(m.item(b.item_id), m.skills(b.skill_ids), b.text, b.difficulty_prior)
                    for b in j.bank])
        maps = [map_of[id(j.bank)] for j in jobs]

        def history(m: IdMap, answers: tuple[Answered, ...]) -> list[Interaction]:
            return [
                Interaction(m.item(a.item_id), m.skills(a.skill_ids), int(a.correct),
                            a.answered_at.timestamp())
                for a in answers
            ]

        t0 = time.perf_counter()
        # The previous state (without the newest answer) feeds "what changed" in the feedback;
        # both are adapted in the same batched call.
        histories = [history(m, j.history) for m, j in zip(maps, jobs, strict=True)]
        previous = [history(m, j.history[:-1]) for m, j in zip(maps, jobs, strict=True)]
        states = api.adapt_batch(self.model, histories + previous)
        adapt_ms = (time.perf_counter() - t0) * 1000 / max(len(jobs), 1)
        residuals = self._calibrate(jobs, maps, states[len(jobs):])
        plans: list[Plan] = []
        for n, (job, m) in enumerate(zip(jobs, maps, strict=True)):
            t1 = time.perf_counter()
            bank = bank_of[id(job.bank)]
            state = states[n]
            # One mastery estimate serves both the selection and the feedback.
            ms = api.mastery(self.model, state)
            plan = api.select_practice_set(
                self.model, state, bank, practice_settings(job.settings),
                job.now.timestamp(), histories[n], item_residuals=residuals.get(job.bank_id),
                state_mastery=ms,
            )
            fb = api.feedback(self.model, state, states[n + len(jobs)],
                              state_mastery=ms).to_dict()
            select_ms = (time.perf_counter() - t1) * 1000
            skills_of = skills_by_bank[id(job.bank)]
            items = [
                {**_jsonable(p.to_dict()), "item_id": m.our_item(p.item_id),
                 "skills": list(skills_of.get(m.our_item(p.item_id), ())),
                 "why": m.named(p.why, job.skill_names),
                 "detail": _our_detail(m, p.detail, job.skill_names,
                                       skills_of.get(m.our_item(p.item_id), ()))}
                for p in plan.items
            ]
            for row in fb["skills"]:
                row["skill"] = m.our_skill(int(row["skill"]))
                row["name"] = _skill_name(row["skill"], job.skill_names)
            fb["changes"] = [m.named(c, job.skill_names) for c in fb["changes"]]
            fb["next_step"] = m.named(fb["next_step"], job.skill_names)
            fb["detail"] = _our_detail(m, fb["detail"], job.skill_names)
            plans.append(
                Plan(
                    items=items,
                    feedback=_jsonable(fb),
                    timings_ms={"adapt": adapt_ms, "select": select_ms},
                )
            )
        return plans

    def _calibrate(self, jobs: list[Job], maps: list[IdMap],
                   before: list[Any]) -> dict[int, dict[int, float]]:
        """Fold each event's newest answer into its item's difficulty estimate (once per
        event), predicted from the state adapted on the answers before it; returns each
        bank's estimates in model item ids for the selection."""
        if self.calibration is None:
            return {}
        from meta_engine.model.item_calibration import calibrate_answer
        from meta_engine.types import Item

        for job, m, state in zip(jobs, maps, before, strict=True):
            if not job.history:
                continue
            a = job.history[-1]
            b = next((b for b in job.bank if b.item_id == a.item_id), None)
            item = Item(m.item(a.item_id), m.skills(a.skill_ids), "",
                        b.difficulty_prior if b else None)
            self.calibration.apply(
                job.bank_id, job.event_id, a.item_id,
                lambda cur, item=item, state=state, a=a: calibrate_answer(
                    self.model, state, item, a.correct, cur),
            )
        out: dict[int, dict[int, float]] = {}
        for job, m in zip(jobs, maps, strict=True):
            if job.bank_id not in out:
                est = self.calibration.load(job.bank_id)
                out[job.bank_id] = {m.item(i): e.mean for i, e in est.items()}
        return out


def load_engine(model_path: str | None, device: str, version: str,
                default_dir: Path | None = None) -> Engine:
    """Load a checkpoint onto `device`, or meta_engine's default model when there is none.

    The default model is trained on simulated students (tens of seconds on a busy CPU), so it
    is saved under `default_dir` the first time and loaded from there by every later process.
    """
    from meta_engine import api

    if model_path:
        return MetaEngine(api.load_model(model_path, device), version)
    saved = default_dir / DEFAULT_CHECKPOINT if default_dir else None
    if saved is not None and (saved / "LATEST").exists():
        model = api.load_model(str(saved), device)
    else:
        model = api.default_model()
        if saved is not None:
            api.save_model(model, str(saved))
        if device != "cpu":
            model = api.load_model(str(saved), device) if saved else model
    return MetaEngine(model, version)
