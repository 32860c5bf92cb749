"""Fixtures of the pipeline tests: a seeded course and a deterministic stand-in engine for the
plain-function tests (the worker-process tests use the real meta_engine)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from lti_tool.db import Database
from tests.pipeline.course import Course, seed_course
from workers.engine import Job, Plan


@dataclass
class RecordingEngine:
    """Picks the bank's items the student has answered least; records every batch it gets."""

    version: str = "test-engine"
    batches: list[list[str]] = field(default_factory=list)

    def plan_batch(self, jobs: list[Job]) -> list[Plan]:
        self.batches.append([j.event_id for j in jobs])
        plans = []
        for job in jobs:
            seen = [a.item_id for a in job.history]
            order = sorted(job.bank, key=lambda b: (seen.count(b.item_id), b.item_id))
            right = sum(a.correct for a in job.history)
            plans.append(Plan(
                items=[{"item_id": b.item_id, "why": "least practised"} for b in order[:3]],
                feedback={"answers": len(job.history), "correct": right},
                state={"n_answers": len(job.history)},
            ))
        return plans


@pytest.fixture()
def course(db: Database) -> Course:
    return seed_course(db)


@pytest.fixture()
def engine() -> RecordingEngine:
    return RecordingEngine()
