"""A Moodle gradebook without HTTP, for the passback and reconciliation functions: the demo
LMS's own grade store (`PlatformStore.save_score`, the 409 rule against the time it processed
the grade) and its results JSON, behind the ScorePoster / ResultReader protocols. Its clock is
the store's, so a test can play an LMS that processes a score late."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lti_tool.devkit.demo_lms import PlatformStore
from lti_tool.devkit.demo_lms.services import result_json
from lti_tool.lms.ags import Result, Score, ScoreOutcome, parse_result
from lti_tool.lms.tokens import ServiceError, error_for_status


@dataclass
class MoodleGradebook:
    maximum: float = 10.0
    store: PlatformStore = field(default_factory=lambda: PlatformStore("https://lms.example"))
    posted: list[dict[str, Any]] = field(default_factory=list)
    post_faults: list[int] = field(default_factory=list)  # HTTP statuses for the next posts
    read_faults: list[int] = field(default_factory=list)  # ... for the next result reads
    reads: int = 0

    def __post_init__(self) -> None:
        self.item = self.store.add_lineitem("Practice", self.maximum)

    def post_score(self, platform_id: int, lineitem_url: str, score: Score) -> ScoreOutcome:
        body = score.to_json()
        self.posted.append(body)
        if self.post_faults:
            raise error_for_status(self.post_faults.pop(0), "score refused")
        points = score.score_given / score.score_maximum * self.item.score_maximum
        saved = self.store.save_score(self.item, score.user_id, score.timestamp,
                                      body["timestamp"], points, score.comment)
        return ScoreOutcome.accepted if saved else ScoreOutcome.refused_not_newer

    def _fault(self) -> ServiceError | None:
        return error_for_status(self.read_faults.pop(0), "results refused") \
            if self.read_faults else None

    def read_result(self, platform_id: int, lineitem_url: str, user_id: str) -> Result | None:
        return self.read_all_results(platform_id, lineitem_url).get(user_id)

    def read_all_results(self, platform_id: int, lineitem_url: str) -> dict[str, Result]:
        self.reads += 1
        fault = self._fault()
        if fault is not None:
            raise fault
        with self.store.lock:
            grades = list(self.store.lineitems[self.item.id].results.items())
        results = (parse_result(result_json(self.store, self.item, uid, g))
                   for uid, g in grades if g.timemodified is not None)
        return {r.user_id: r for r in results}

    def held(self, user_id: str = "101") -> float | None:
        grade = self.item.results.get(user_id)
        return None if grade is None else grade.result_score

    def set_clock(self, seconds: float) -> None:
        self.store.clock = lambda: seconds
