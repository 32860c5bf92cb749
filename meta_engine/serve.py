"""Serving a batch of grade events for one course: the function the workers and the transfer
benchmark both call.

    results = run_batch(model, store, course, events)   # load tables, serve, apply updates

or, with storage handled by the caller,

    tables  = course_tables(model, course, store.load((model.version, course)))
    results = serve_batch(model, tables, events)
    store.apply((model.version, course), [u for r in results for u in r.updates])

For each event (a student's course history whose last answer is the graded one) a result says
- `p_before`: the prediction the model made for that answer from the answers before it and
  the course tables before this batch (what an evaluation scores; strictly causal);
- `updates`: that answer's increments of the course tables (`model.tables.answer_updates`),
  idempotent by event id at the storage layer;
- `state`, `plan` and `feedback` (when asked): the student adapted on the whole history with
  the tables after this batch's updates, the next practice set with structured reasons, and
  the feedback comparing with the student's state at their previous set (`since`).

Ids are the course's own (items, skills); a course's tables are keyed by (core version,
course) in the store, never shared with another course. A model trained on a course's own
answers (`card["course"]`) starts that course from its trained tables; any other course starts
from priors.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from meta_engine.model.resume import ResumePoint, advance
from meta_engine.model.serving import (
    Model,
    PreparedBank,
    StudentState,
    adapt_batch,
    history_windows,
    mastery,
    predict_next,
    prepare_bank,
)
from meta_engine.model.tables import (
    CourseTables,
    TableDeltas,
    TableStore,
    TableUpdate,
    answer_updates,
)
from meta_engine.practice.feedback import Feedback, feedback
from meta_engine.practice.select import PracticePlan, PracticeSettings, select_with_mastery
from meta_engine.types import Interaction, Item


@dataclass(frozen=True)
class Event:
    """One grade event of a course, as the serving function needs it.

    `history`: every answer of the student in this course (all its activities), oldest first;
    when `answered`, the last one is this event's answer. `since`: how many of those answers
    the student had when their previous set was planned (None: no previous set). `plan`:
    adapt the student and give feedback; `select`: also choose a new practice set from `bank`
    (False while the student is still working through the set they have).
    """

    event_id: str
    student: str
    history: Sequence[Interaction]
    answered: bool = True
    bank: PreparedBank | Sequence[Item] | None = None
    settings: PracticeSettings | None = None
    now: float = 0.0
    since: int | None = None
    plan: bool = True
    names: Mapping[int, str] | None = None
    select: bool = True
    # The mastery the page shows now (skill -> share) and the one it showed when the current
    # set was planned: feedback holds to the evidence and compares like with like.
    shown: Mapping[int, float] | None = None
    before: Mapping[int, float] | None = None
    # The answers before `history`, summarised: `history` is then only the answers after it
    # (and `since` still counts from the first answer). See meta_engine.model.resume.
    earlier: ResumePoint | None = None
    # Also return a resume point for the next event of this student (`EventResult.point`).
    want_point: bool = False

    def prefix(self, n: int, window: int) -> list[Interaction]:
        """The answers after `earlier` among the student's first `n`: enough to adapt on
        (the last `window` of them) only if the point lies that far before answer `n`."""
        first = self.earlier.n if self.earlier is not None else 0
        if first and n - first < window:
            raise ValueError(f"event {self.event_id}: the state after {n} answers is asked "
                             f"for, but the history given starts after answer {first}")
        return list(self.history[: n - first])


@dataclass
class EventResult:
    event_id: str
    p_before: float | None
    updates: list[TableUpdate]
    state: StudentState | None = None
    plan: PracticePlan | None = None
    feedback: Feedback | None = None
    timings_ms: dict = field(default_factory=dict)
    # (how many answers of the event's `history` it covers, the point after them)
    point: tuple[int, ResumePoint] | None = None

    def to_dict(self) -> dict:
        return {"event_id": self.event_id, "p_before": self.p_before,
                "updates": [u.to_dict() for u in self.updates],
                "state": self.state.to_dict() if self.state is not None else None,
                "plan": self.plan.to_dict() if self.plan is not None else None,
                "feedback": self.feedback.to_dict() if self.feedback is not None else None,
                "timings_ms": self.timings_ms}


# A resume point leaves the last `window` + KEEP_SLACK answers after it, and is moved on only
# once as many again have come: the history read per event stays between one and two of those.
KEEP_SLACK = 8


def point_cut(model: Model, n_history: int) -> int | None:
    """Where in a history of `n_history` answers (those after the current point) to put the
    next resume point; None: not yet (keep the current one)."""
    keep = model.net.cfg.window + KEEP_SLACK
    return n_history - keep if n_history >= 2 * keep else None


def course_tables(model: Model, course: str, deltas: TableDeltas | None = None
                  ) -> CourseTables:
    """The tables `course` is served with: the model's trained tables if the model was
    trained on this very course, else priors; plus what the course learned online."""
    if str(model.card.get("course", "")) == str(course) and model.net.tables.n_skills > 0:
        return model.course_tables(deltas)
    return model.new_course_tables(deltas)


def _item_priors(events: Sequence[Event]) -> dict[int, float]:
    out: dict[int, float] = {}
    seen: set[int] = set()
    for e in events:
        if e.bank is None or id(e.bank) in seen:
            continue
        seen.add(id(e.bank))
        if isinstance(e.bank, PreparedBank):
            out.update(e.bank.priors())
        else:
            out.update({it.id: float(it.difficulty_prior) for it in e.bank
                        if it.difficulty_prior is not None})
    return out


def serve_batch(model: Model, tables: CourseTables, events: Sequence[Event]
                ) -> list[EventResult]:
    """Predictions, table updates and (when asked) states, plans and feedback for a batch of
    one course's events (see the module doc). Pure: storing the updates is the caller's."""
    if not events:
        return []
    t0 = time.perf_counter()
    priors = _item_priors(events)
    answered = [i for i, e in enumerate(events) if e.answered and e.history]
    wanted = [i for i, e in enumerate(events) if e.plan]
    # Each history featurised once, for the prediction and the adaptation both.
    both = sorted(set(answered) | set(wanted))
    windows = dict(zip(both, history_windows(model, [events[i].history for i in both],
                                             [events[i].earlier for i in both]), strict=True))
    nxt = predict_next(model, [events[i].history for i in answered], tables, priors,
                       [events[i].earlier for i in answered], [windows[i] for i in answered])
    slope = float(model.net.calib_a)
    p_before: dict[int, float] = {}
    updates: dict[int, list[TableUpdate]] = {}
    for j, i in enumerate(answered):
        e = events[i]
        a = e.history[-1]
        sk = tuple(k for k in a.skills if k > 0)
        p = float(nxt.p[j])
        p_before[i] = p
        updates[i] = answer_updates(tables, e.event_id, a.item, sk, nxt.log_wins[j],
                                    nxt.log_fails[j], p, a.correct, slope, priors.get(a.item))
    t1 = time.perf_counter()
    results = [EventResult(e.event_id, p_before.get(i), updates.get(i, []))
               for i, e in enumerate(events)]
    if wanted:
        after_tables = tables.with_updates(u for us in updates.values() for u in us)
        # The state at the previous set is adapted only where the shown mastery then is not
        # known (a caller that keeps `before` saves that second adaptation).
        since = [i for i in wanted if events[i].since is not None and events[i].before is None]
        window = model.net.cfg.window
        states = adapt_batch(model, [list(events[i].history) for i in wanted]
                             + [events[i].prefix(events[i].since or 0, window) for i in since],
                             after_tables, priors,
                             [events[i].earlier for i in wanted + since],
                             [windows[i] for i in wanted] + [None] * len(since))
        prev = dict(zip(since, states[len(wanted):], strict=True))
        prepared: dict[int, PreparedBank] = {}
        for i, st in zip(wanted, states[: len(wanted)], strict=True):
            e = events[i]
            t2 = time.perf_counter()
            bank = None
            if e.bank is not None:
                # One bank's arrays for all of the batch's events on it (its events share
                # the bank object): 16 ms each for 20,000 questions.
                if id(e.bank) not in prepared:
                    prepared[id(e.bank)] = prepare_bank(model, e.bank)
                bank = prepared[id(e.bank)]
            skills = set(st.skill_ids)
            if bank is not None:
                skills |= {int(k) for k in np.unique(bank.skills[bank.skills > 0])}
            r = results[i]
            r.state = st
            if bank is not None and e.select:
                r.plan, ms = select_with_mastery(model, st, bank, sorted(skills), e.settings,
                                                 e.now, list(e.history), after_tables,
                                                 e.names, e.earlier)
            else:
                ms = mastery(model, st, sorted(skills), after_tables)
            r.feedback = feedback(
                model, st, prev.get(i), state_mastery=ms, tables=after_tables, names=e.names,
                mastered_at=(e.settings or PracticeSettings()).mastered_at,
                last=e.history[-1] if e.answered and e.history else None,
                shown=e.shown, before=e.before)
            r.timings_ms["plan"] = (time.perf_counter() - t2) * 1000
    for e, r in zip(events, results, strict=True):
        cut = point_cut(model, len(e.history)) if e.want_point else None
        if cut is not None:
            r.point = (cut, advance(e.earlier, e.history[:cut]))
    per = (t1 - t0) * 1000 / max(len(events), 1)
    for r in results:
        r.timings_ms["predict_update"] = per
    return results


def run_batch(model: Model, store: TableStore, course: str, events: Sequence[Event]
              ) -> list[EventResult]:
    """Load `course`'s tables from `store`, serve the batch, apply its updates (the store
    skips events it applied before). The benchmark and the worker both go through here."""
    key = (model.version, str(course))
    tables = course_tables(model, course, store.load(key))
    results = serve_batch(model, tables, events)
    store.apply(key, [u for r in results for u in r.updates])
    return results
