"""Per-course models and their promotion gate.

Retraining on a course's (or a deployment's) own answers gives a model for that course only:
the core fine-tuned from the serving core together with the course's own tables, its card
naming the course (`card["course"]`). It is promoted for that course when, on the course's own
held-out students served in time order through `serve.run_batch`, it predicts at least as well
as the model serving the course now. `CourseModels` is the registry of which model serves
which course: a course without a promoted model is served by the default core, and a model
promoted for course A is never returned for course B (tested). The worker keeps the same
mapping in its database (phase 2); this class is the in-memory form and the contract.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from meta_engine.metrics import auc
from meta_engine.model.serving import Model
from meta_engine.model.student import MetisConfig, MetisNet
from meta_engine.model.tables import InMemoryTableStore
from meta_engine.serve import Event, run_batch
from meta_engine.train import TrainCourse, max_skills, train_courses
from meta_engine.types import Dataset


def train_course_model(train: Dataset, valid: Dataset, course: str, base: Model | None = None,
                       version: str | None = None, **overrides: Any) -> tuple[Model, dict]:
    """Meta-train core + tables on one course's students (early stopping on `valid`); the
    core starts from `base`'s (the serving core) when given."""
    cfg = copy.deepcopy(base.net.cfg) if base is not None else MetisConfig(0, 0)
    cfg.n_items, cfg.n_skills = max(train.n_items, valid.n_items), max(train.n_skills,
                                                                       valid.n_skills)
    cfg.max_skills = max(cfg.max_skills, max_skills(train, valid))
    for k, v in overrides.items():
        setattr(cfg, k, v)
    init = base.net.core.state_dict() if base is not None else None
    core, tables, rep = train_courses([TrainCourse(course, train, valid)], cfg, "cpu",
                                      init_core=init)
    net = MetisNet(cfg)
    net.core.load_state_dict(core.state_dict())
    net.tables = tables[0]
    card = {"course": str(course), "base": base.version if base is not None else None,
            "valid": rep.to_dict()}
    return Model(net.eval(), torch.device("cpu"), card, version or f"course-{course}"), card


def served_auc(model: Model, data: Dataset, course: str, concurrency: int = 16) -> float:
    """AUC of `model` serving `data`'s students as `course` in arrival order (each student
    after the previous ones, `concurrency` at a time), from fresh online deltas."""
    store = InMemoryTableStore()
    ys: list[int] = []
    ps: list[float] = []
    inter = [s.interactions() for s in data.sequences]
    for b in range(0, len(inter), concurrency):
        block = list(enumerate(inter[b: b + concurrency], start=b))
        for t in range(max((len(h) for _, h in block), default=0)):
            events = [Event(f"{u}:{t}", str(u), h[: t + 1], plan=False)
                      for u, h in block if t < len(h)]
            for e, r in zip(events, run_batch(model, store, course, events), strict=True):
                if r.p_before is not None:
                    ps.append(r.p_before)
                    ys.append(int(e.history[-1].correct))
    return float(auc(np.asarray(ys), np.asarray(ps)))


@dataclass
class Promotion:
    course: str
    candidate: str
    candidate_auc: float
    active: str
    active_auc: float
    promoted: bool


@dataclass
class CourseModels:
    """Which model serves which course: a promoted course model, else the default core."""

    default: Model
    active: dict[str, Model] = field(default_factory=dict)
    history: list[Promotion] = field(default_factory=list)

    def model_for(self, course: str) -> Model:
        return self.active.get(str(course), self.default)

    def consider(self, course: str, candidate: Model, held_out: Dataset) -> Promotion:
        """Promote `candidate` for `course` (only) if its served AUC on the course's held-out
        students is no worse than the current model's on the same students."""
        course = str(course)
        if str(candidate.card.get("course", "")) != course:
            raise ValueError(f"model {candidate.version} was not trained on course {course!r}")
        cur = self.model_for(course)
        a_new = served_auc(candidate, held_out, course)
        a_cur = served_auc(cur, held_out, course)
        ok = bool(np.isfinite(a_new) and (not np.isfinite(a_cur) or a_new >= a_cur))
        if ok:
            self.active[course] = candidate
        p = Promotion(course, candidate.version, a_new, cur.version, a_cur, ok)
        self.history.append(p)
        return p

    def courses(self) -> Sequence[str]:
        return sorted(self.active)
