"""Choosing a student's next practice set, with a one-sentence reason per item.

Score of a candidate (higher is better), from the adapted student state:
- band:        predicted success inside the target band (default 60-80%): desirable difficulty;
- weakness:    1 - mastery of the item's skills, so weak skills get practice;
- review:      an item the student missed, answered long enough ago, comes back (spacing);
- exploration: the Laplace sd of the item's skills, where the model is unsure;
and two hard rules: items answered within `hold_back` are held back, and a skill appears at
most `max_per_skill` times in a set (relaxed only when the bank cannot fill the set otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from meta_engine.model.serving import (
    Mastery,
    Model,
    PreparedBank,
    StudentState,
    mastery,
    predict_logits,
    prepare_bank,
)
from meta_engine.model.tables import CourseTables
from meta_engine.practice.reasons import say_item
from meta_engine.types import Interaction, Item


@dataclass
class PracticeSettings:
    n_items: int = 5
    band: tuple[float, float] = (0.6, 0.8)
    hold_back: float = 600.0  # items answered less than this long ago (timestamp units) wait
    review_after: float = 86400.0  # a missed item is brought back once this much time passed
    max_per_skill: int = 2
    w_band: float = 4.0
    w_weakness: float = 1.0
    w_review: float = 1.0
    w_explore: float = 0.5
    explore_sd: float = 0.5  # a skill whose logit sd exceeds this counts as "unsure"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class PlannedItem:
    item_id: int
    skills: tuple[int, ...]
    p_correct: float
    reason: str  # the reason's code: band | weakness | review | explore (practice.reasons)
    why: str  # default English wording of (reason, detail)
    score: float
    # The reason's parameters, in the course's own skill ids, so a page says it in its own
    # words and language: p, skills, band (lo, hi); review: ago_s; weakness: skill, mastery;
    # band: inside.
    detail: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["skills"] = list(self.skills)
        return d


@dataclass
class PracticePlan:
    items: list[PlannedItem]
    created_at: float
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"items": [i.to_dict() for i in self.items], "created_at": self.created_at,
                "settings": self.settings}


def _last_answers(history: Sequence[Interaction]) -> dict[int, tuple[float, int]]:
    last: dict[int, tuple[float, int]] = {}
    for x in history:
        if x.item:
            last[x.item] = (x.timestamp, x.correct)
    return last


def select_practice_set(model: Model, state: StudentState, bank: Sequence[Item] | PreparedBank,
                        settings: PracticeSettings | None = None, now: float = 0.0,
                        history: Sequence[Interaction] | None = None,
                        use_item_residuals: bool = True,
                        item_residuals: Mapping[int, float] | None = None,
                        state_mastery: Mastery | None = None,
                        tables: CourseTables | None = None,
                        names: Mapping[int, str] | None = None) -> PracticePlan:
    """The next set for `state` from `bank` (course ids throughout). A caller that plans many
    students on one bank passes it once through `prepare_bank`; one that already has the
    mastery of the bank's skills passes it as `state_mastery` (both only save time). `tables`:
    the course's tables (default: the model's own); `names` only words `why`."""
    s = settings or PracticeSettings()
    history = history or []
    if not bank:
        return PracticePlan([], now, s.to_dict())
    pb = prepare_bank(model, bank)
    ids, skills = pb.ids, pb.skills
    z = predict_logits(model, state, ids, skills, pb.prior, tables, item_residuals,
                       use_item_residuals)
    p = 1.0 / (1.0 + np.exp(-z))
    bank_skills = np.unique(skills[skills > 0])
    ms = state_mastery if state_mastery is not None else mastery(
        model, state, bank_skills.tolist(), tables)
    where = ms.index()
    col = np.array([where.get(int(k), -1) for k in bank_skills.tolist()], dtype=np.int64)
    if (col < 0).any():  # a given mastery without some of the bank's skills
        ms = mastery(model, state, bank_skills.tolist(), tables)
        where = ms.index()
        col = np.array([where[int(k)] for k in bank_skills.tolist()], dtype=np.int64)
    valid = skills > 0
    nk = np.maximum(valid.sum(1), 1)
    # An item tagged with no skill counts as an average skill: neither weak (which would put
    # every untagged question first) nor unexplored.
    tagged = valid.any(1)
    if bank_skills.size:
        idx = col[np.minimum(np.searchsorted(bank_skills, skills), bank_skills.size - 1)]
        m_sum = np.where(valid, ms.mean[idx], 0.0).sum(1)
        sd_sum = np.where(valid, ms.sd_logit[idx], 0.0).sum(1)
        mean_all, sd_all = float(ms.mean[col].mean()), float(ms.sd_logit[col].mean())
    else:
        m_sum = sd_sum = np.zeros(len(pb))
        mean_all, sd_all = 0.5, 0.0
    m_item = np.where(tagged, m_sum / nk, mean_all)
    sd_item = np.where(tagged, sd_sum / nk, sd_all)
    lo, hi = s.band
    band_fit = -np.abs(p - np.clip(p, lo, hi)) / max(hi - lo, 1e-6)
    weakness = 1.0 - m_item
    explore = np.clip(sd_item - s.explore_sd, 0.0, None)
    last = _last_answers(history)
    review = np.zeros(len(pb))
    held = np.zeros(len(pb), dtype=bool)
    # Only answered items can be held back or reviewed: walk the history, not the bank.
    for item_id, (t, c) in last.items():
        if now - t < s.hold_back:
            held |= ids == item_id
        elif c == 0 and now - t >= s.review_after:
            review[ids == item_id] = 1.0
    parts = {"band": s.w_band * band_fit, "weakness": s.w_weakness * weakness,
             "review": s.w_review * review, "explore": s.w_explore * explore}
    score = sum(parts.values())
    # Held-back items are used only if the rest of the bank cannot fill the set.
    score = np.where(held, score - 1e6, score)
    chosen: list[PlannedItem] = []
    used = np.zeros(len(pb), dtype=bool)
    per_skill: dict[int, int] = {}
    n_pick = min(s.n_items, len(pb))
    for relax in (False, True):
        order = np.argsort(-score, kind="stable")
        for r in order:
            if len(chosen) >= n_pick:
                break
            if used[r]:
                continue
            sk = tuple(k for k in pb.items[r].skills if k > 0)
            if not relax and any(per_skill.get(k, 0) >= s.max_per_skill for k in sk):
                continue
            used[r] = True
            for k in sk:
                per_skill[k] = per_skill.get(k, 0) + 1
            chosen.append(_planned(pb.items[r], float(p[r]), {k: float(v[r]) for k, v in
                                   parts.items()}, float(score[r]), s, ms, where, last, now,
                                   names))
    return PracticePlan(chosen, now, s.to_dict())


def _planned(item: Item, p: float, parts: dict[str, float], score: float,
             s: PracticeSettings, ms: Mastery, where: dict[int, int],
             last: dict[int, tuple[float, int]], now: float,
             names: Mapping[int, str] | None) -> PlannedItem:
    lo, hi = s.band
    skills = [k for k in item.skills if k > 0]
    weakest = min(skills, key=lambda k: ms.mean[where[k]] if k in where else 1.0, default=0)
    detail: dict = {"p": p, "skills": skills, "band": [lo, hi]}
    if parts["review"] > 0:
        reason = "review"
        detail["ago_s"] = now - last[item.id][0]
    elif parts["explore"] > 0.25 * s.w_explore and parts["explore"] >= parts["weakness"] / 2:
        reason = "explore"
    elif parts["weakness"] >= 0.5 * s.w_weakness and weakest in where:
        reason = "weakness"
        detail.update(skill=int(weakest), mastery=float(ms.mean[where[weakest]]))
    else:
        reason = "band"
        detail["inside"] = bool(lo <= p <= hi)
    return PlannedItem(item.id, tuple(skills), p, reason, say_item(reason, detail, names),
                       score, detail)
