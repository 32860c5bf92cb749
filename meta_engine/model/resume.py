"""What a student's earlier answers leave behind, so that serving resumes from it instead of
reading them all again on every grade event.

The model adapts on the last `window` answers only; what it needs of the answers before those
is their feature statistics (`FeatureState`), and the practice-set rules need of them only each
question's last answer and whether it was ever missed. A `ResumePoint` holds exactly that for
the first `n` answers of a history, in course skill ids (it does not depend on the model), so

    serve(point after history[:n], history[n:])  ==  serve(history)

as long as `history[n:]` still holds the last `window` + 1 answers (tested). Its size grows
with the questions and skills a student met, not with the number of answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from meta_engine.model.features import FeatureState
from meta_engine.types import Interaction

PER_SKILL = ("wins", "fails", "ewins", "efails", "last", "last_seen")


@dataclass(frozen=True)
class ItemLast:
    """A question's last answer in the history so far."""

    timestamp: float
    correct: int
    position: int  # index of that answer in the whole history, from 0
    missed: bool  # answered wrong at least once


@dataclass(frozen=True)
class ResumePoint:
    """The first `n` answers of a student's history, summarised (see the module doc).

    `features` runs over the local skill index 1..len(skill_ids) of `skill_ids` (sorted).
    """

    n: int = 0
    skill_ids: tuple[int, ...] = ()
    features: FeatureState = field(default_factory=lambda: FeatureState(0))
    items: Mapping[int, ItemLast] = field(default_factory=dict)

    def features_over(self, ids: np.ndarray) -> FeatureState:
        """The feature statistics over a larger sorted skill index `ids` (a superset of this
        point's skills): a history's later answers may bring skills it never met."""
        st = self.features
        size = int(ids.size) + 1
        at = np.searchsorted(ids, np.asarray(self.skill_ids, dtype=np.int64)) + 1
        lists: dict[str, list] = {}
        for name in PER_SKILL:
            old = getattr(st, name)
            new = [-1 if name == "last_seen" else 0.0] * size
            for j, pos in enumerate(at.tolist()):
                new[pos] = old[j + 1]
            lists[name] = new
        return FeatureState(
            int(ids.size), **lists, item_wins=dict(st.item_wins), item_fails=dict(st.item_fails),
            total_wins=st.total_wins, total_fails=st.total_fails, last_answer=st.last_answer,
            g_ewins=st.g_ewins, g_efails=st.g_efails, n=st.n)

    def to_dict(self) -> dict:
        return {"n": self.n, "skill_ids": list(self.skill_ids),
                "features": self.features.to_dict(),
                "items": {str(k): [v.timestamp, v.correct, v.position, v.missed]
                          for k, v in self.items.items()}}

    @classmethod
    def from_dict(cls, d: Mapping) -> ResumePoint:
        items = {int(k): ItemLast(float(t), int(c), int(p), bool(m))
                 for k, (t, c, p, m) in dict(d["items"]).items()}
        return cls(int(d["n"]), tuple(int(k) for k in d["skill_ids"]),
                   FeatureState.from_dict(d["features"]), items)


def advance(point: ResumePoint | None, answers: Sequence[Interaction]) -> ResumePoint:
    """The point after `answers`, which follow `point` (None: the start of the history)."""
    point = point or ResumePoint()
    skills = [[k for k in a.skills if k > 0] for a in answers]
    ids = np.union1d(np.asarray(point.skill_ids, dtype=np.int64),
                     np.asarray([k for row in skills for k in row], dtype=np.int64))
    st = point.features_over(ids)
    items = dict(point.items)
    for pos, (a, row) in enumerate(zip(answers, skills, strict=True), start=point.n):
        local = tuple(int(j) for j in np.searchsorted(ids, row) + 1)
        st.update(a.item, local, a.correct)
        if a.item:
            before = items.get(a.item)
            items[a.item] = ItemLast(a.timestamp, int(a.correct), pos,
                                     not a.correct or (before is not None and before.missed))
    return ResumePoint(point.n + len(answers), tuple(int(k) for k in ids), st, items)
