"""A deterministic engine for the worker-process tests, swapped in by tests.support.worker_app.
METIS_TEST_ENGINE_SLOW_S makes each batch take that long and writes
METIS_TEST_ENGINE_MARK when a batch starts, so a test can kill the worker mid-task."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from workers.engine_adapter import Job, Plan


@dataclass
class RecordingEngine:
    """Picks the bank's items the student has answered least; records every batch it gets."""

    version: str = "test-engine"
    batches: list[list[str]] = field(default_factory=list)

    def plan_batch(self, jobs: list[Job]) -> list[Plan]:
        self.batches.append([j.event_id for j in jobs])
        mark = os.environ.get("METIS_TEST_ENGINE_MARK")
        if mark:
            with Path(mark).open("a") as f:
                f.write(" ".join(j.event_id for j in jobs) + "\n")
        time.sleep(float(os.environ.get("METIS_TEST_ENGINE_SLOW_S", "0")))
        plans = []
        for job in jobs:
            seen = [a.item_id for a in job.history]
            order = sorted(job.bank, key=lambda b: (seen.count(b.item_id), b.item_id))
            right = sum(a.correct for a in job.history)
            plans.append(Plan(
                items=[{"item_id": b.item_id, "why": "least practised"} for b in order[:3]]
                if job.new_set else None,
                feedback={"answers": len(job.history), "correct": right},
            ))
        return plans


def make(*_: object) -> RecordingEngine:
    return RecordingEngine()


@pytest.fixture()
def engine() -> RecordingEngine:
    return RecordingEngine()
