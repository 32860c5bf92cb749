"""The one place where the pipeline meets meta_engine: database rows in, JSON-ready plans out.

`Job` and `Plan` are plain data, so the pipeline's storage, set-keeping and idempotency logic
is tested without knowing how the model works. `MetaEngine` hands each course's jobs to
`meta_engine.serve.run_batch` (the same function the transfer benchmark measures), with the
course's own item and skill ids: nothing is folded or renamed here, and the page words the
engine's structured reasons itself (`lti_tool.web.practice_text`).
"""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from lti_tool.core.activities import ActivitySettings

if TYPE_CHECKING:
    from meta_engine.model.serving import Model
    from meta_engine.model.tables import TableStore
    from meta_engine.serve import Event as EventType
    from meta_engine.serve import EventResult


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
    """One grade event's work.

    `history`: the student's answers in this course (every activity), oldest first, the last
    being this event's. `since`: how many of them the student had when the set they are on
    was planned (None: no earlier set), what "since your last set" compares with.
    `new_set`: whether this answer finished the set, so a new one is chosen; otherwise only
    the feedback is renewed and the student keeps their set. `course`: the key of the course
    tables (one per deployment), `deployment_id`: whose model serves it.
    """

    event_id: str
    history: tuple[Answered, ...]
    bank: tuple[BankItem, ...]
    settings: ActivitySettings
    now: datetime
    skill_names: dict[int, str] = field(default_factory=dict)
    course: str = ""
    deployment_id: int | None = None
    student: str = ""
    since: int | None = None
    new_set: bool = True
    # The mastery the page shows now and showed when the set was planned (skill -> share):
    # feedback holds to the evidence and compares like with like (meta_engine.practice.feedback).
    shown: dict[int, float] | None = None
    before: dict[int, float] | None = None
    # The student's answers before `history`, summarised (ResumePoint.to_dict(), `earlier_n`
    # of them): `history` is then only the answers after them. None: `history` is all.
    earlier: dict[str, Any] | None = None
    earlier_n: int = 0
    want_point: bool = True


@dataclass
class Plan:
    items: list[dict[str, Any]] | None  # None: the student keeps the set they are on
    feedback: dict[str, Any]
    timings_ms: dict[str, float] = field(default_factory=dict)
    model_version: str | None = None
    # A new resume point: (how many answers of the job's history it covers, its dict).
    point: tuple[int, dict[str, Any]] | None = None


class Engine(Protocol):
    version: str

    def plan_batch(self, jobs: list[Job]) -> list[Plan]: ...


def course_key(deployment_id: int | None) -> str:
    """The course whose tables an answer updates: the deployment (item and skill ids are this
    database's, unique across banks, so one deployment's banks never collide)."""
    return f"deployment-{deployment_id or 0}"


def _jsonable(value: Any) -> Any:
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
    return str(value)


def _named(detail: dict[str, Any], names: dict[int, str]) -> dict[str, Any]:
    """The engine's detail (our own skill ids) with each skill's name beside it, for the
    page's sentences; None where a skill has no name (the page says it its own way)."""
    d = dict(detail)
    if "skills" in d:
        d["skill_names"] = [names.get(int(k)) for k in d["skills"]]
    if "skill" in d and d["skill"] is not None:
        d["skill_name"] = names.get(int(d["skill"]))
    if isinstance(d.get("next"), dict):
        d["next"] = _named(d["next"], names)
    return d


def plan_of(result: EventResult, job: Job, version: str) -> Plan:
    """One served event as the pipeline stores it (JSON only)."""
    names = job.skill_names
    fb = _jsonable(result.feedback.to_dict()) if result.feedback is not None else {}
    for row in fb.get("skills", []):
        row["name"] = names.get(int(row["skill"]))
    if "detail" in fb:
        fb["detail"] = _named(fb["detail"], names)
    items = None
    if result.plan is not None:
        items = [{**_jsonable(p.to_dict()), "detail": _named(_jsonable(p.detail), names)}
                 for p in result.plan.items]
    point = (result.point[0], result.point[1].to_dict()) if result.point is not None else None
    return Plan(items=items, feedback=fb, timings_ms=dict(result.timings_ms),
                model_version=version, point=point)


ModelFor = Callable[[int | None], "Model"]


class PreparedBanks:
    """Banks as the engine serves them (`meta_engine`'s PreparedBank: items and arrays), per
    model, for the bank tuples the pipeline hands over. The pipeline hands the same tuple
    again while the bank is unchanged (workers.bank_cache), so a worker process builds a
    20,000-question bank once (about 90 ms), not once per batch. Each entry holds its tuple:
    a tuple is known by identity and kept alive while its entry is."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[int, str], tuple[tuple[BankItem, ...], Any]] = (
            OrderedDict())

    def get(self, model: Model, bank: tuple[BankItem, ...]) -> Any:
        from meta_engine.model.serving import prepare_bank
        from meta_engine.types import Item

        key = (id(bank), model.version)
        hit = self._entries.get(key)
        if hit is not None and hit[0] is bank:
            self._entries.move_to_end(key)
            return hit[1]
        prepared = prepare_bank(model, [Item(b.item_id, b.skill_ids, b.text, b.difficulty_prior)
                                        for b in bank])
        self._entries[key] = (bank, prepared)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return prepared


class MetaEngine:
    """Serves each course's jobs of a batch through `run_batch`, with the model of the job's
    deployment (`model_for`) and the course tables in `store`; `banks` may outlive the
    engine (a worker process keeps one)."""

    def __init__(self, model_for: ModelFor, store: TableStore, version: str = "",
                 banks: PreparedBanks | None = None) -> None:
        self.model_for = model_for
        self.store = store
        self.version = version or model_for(None).version
        self.banks = banks if banks is not None else PreparedBanks()

    def plan_batch(self, jobs: list[Job]) -> list[Plan]:
        from meta_engine.serve import run_batch

        plans: list[Plan | None] = [None] * len(jobs)
        for model, course, members in self._groups(jobs):
            events = [event_of(jobs[n], self.banks.get(model, jobs[n].bank)) for n in members]
            t0 = time.perf_counter()
            results = run_batch(model, self.store, course, events)
            per = (time.perf_counter() - t0) * 1000 / len(events)
            for n, result in zip(members, results, strict=True):
                plan = plan_of(result, jobs[n], model.version)
                plan.timings_ms["engine"] = per
                plans[n] = plan
        return [p for p in plans if p is not None]

    def _groups(self, jobs: list[Job]) -> list[tuple[Model, str, list[int]]]:
        """The batch's jobs by (model of their deployment, course): one run_batch each."""
        groups: dict[tuple[str, str], list[int]] = {}
        models: dict[str, Model] = {}
        for n, job in enumerate(jobs):
            model = self.model_for(job.deployment_id)
            models[model.version] = model
            groups.setdefault((model.version, job.course), []).append(n)
        return [(models[version], course, members)
                for (version, course), members in groups.items()]


def event_of(job: Job, bank: Any = None) -> EventType:
    """A job as meta_engine's serving function takes it (course ids, timestamps in seconds),
    its bank as `PreparedBanks` gave it (None: no bank, nothing to choose from)."""
    from meta_engine.model.resume import ResumePoint
    from meta_engine.serve import Event
    from meta_engine.types import Interaction

    return Event(
        event_id=job.event_id,
        student=job.student,
        history=[Interaction(a.item_id, a.skill_ids, int(a.correct), a.answered_at.timestamp())
                 for a in job.history],
        bank=bank,
        settings=practice_settings(job.settings),
        now=job.now.timestamp(),
        since=job.since,
        names=job.skill_names,
        select=job.new_set,
        shown=job.shown,
        before=job.before,
        earlier=ResumePoint.from_dict(job.earlier) if job.earlier is not None else None,
        want_point=job.want_point,
    )


def practice_settings(settings: ActivitySettings) -> Any:
    """The activity's settings in meta_engine's terms: the set's size, the target band and
    the mastery threshold."""
    from meta_engine.practice.select import PracticeSettings

    return PracticeSettings(n_items=settings.set_size, band=settings.band,
                            mastered_at=settings.mastery_threshold)


def load_engine(model_dir: str | None = None, device: str = "cpu",
                store: TableStore | None = None) -> MetaEngine:
    """One model for every deployment (a checkpoint, or the shipped default), course tables
    in `store` (in memory by default): the benchmarks' and tests' engine."""
    from meta_engine import api
    from meta_engine.model.tables import InMemoryTableStore

    model = api.load_model(model_dir, device) if model_dir else api.default_model(device)
    return MetaEngine(lambda _deployment: model, store or InMemoryTableStore())
