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

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np

from meta_engine.model.runtime import (
    Mastery,
    Model,
    PreparedBank,
    StudentState,
    apply_item_residuals,
    mastery,
    predict_logits,
    prepare_bank,
)
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
    reason: str  # band | weakness | review | explore
    why: str
    score: float
    # The numbers behind `why`, so a page can say it in its own words and language:
    # p, skills, band (lo, hi); review: ago_s; weakness: skill, mastery.
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


def _ago(dt: float) -> str:
    for unit, secs in (("day", 86400.0), ("hour", 3600.0), ("minute", 60.0)):
        if dt >= secs:
            n = int(dt // secs)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{int(dt)} seconds"


def _last_answers(history: list[Interaction]) -> dict[int, tuple[float, int]]:
    last: dict[int, tuple[float, int]] = {}
    for x in history:
        if x.item:
            last[x.item] = (x.timestamp, x.correct)
    return last


def select_practice_set(model: Model, state: StudentState, bank: list[Item] | PreparedBank,
                        settings: PracticeSettings | None = None, now: float = 0.0,
                        history: list[Interaction] | None = None,
                        use_item_residuals: bool = True,
                        item_residuals: Mapping[int, float] | None = None,
                        state_mastery: Mastery | None = None) -> PracticePlan:
    """The next set for `state` from `bank`. A caller that plans many students on one bank
    passes it once through `prepare_bank`; one that already has `mastery(model, state)`
    passes it as `state_mastery` (both only save time: the plan is the same)."""
    s = settings or PracticeSettings()
    history = history or []
    if not bank:
        return PracticePlan([], now, s.to_dict())
    pb = prepare_bank(model, bank)
    ids, skills = pb.ids, pb.skills
    prior = apply_item_residuals(ids, pb.prior, item_residuals)  # online difficulty estimates
    z = predict_logits(model, state, ids if use_item_residuals else np.zeros_like(ids), skills,
                       prior)
    p = 1.0 / (1.0 + np.exp(-z))
    ms = state_mastery if state_mastery is not None else mastery(model, state)
    valid = (skills > 0) & (skills <= model.n_skills)
    idx = np.where(valid, skills - 1, 0)
    nk = np.maximum(valid.sum(1), 1)
    # An item tagged with no skill the model knows counts as an average skill: neither weak
    # (which would put every untagged question first) nor unexplored.
    tagged = valid.any(1)
    m_item = np.where(tagged, np.where(valid, ms.mean[idx], 0.0).sum(1) / nk, ms.mean.mean())
    sd_item = np.where(tagged, np.where(valid, ms.sd_logit[idx], 0.0).sum(1) / nk,
                       ms.sd_logit.mean())
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
            sk = pb.items[r].skills
            if not relax and any(per_skill.get(k, 0) >= s.max_per_skill for k in sk):
                continue
            used[r] = True
            for k in sk:
                per_skill[k] = per_skill.get(k, 0) + 1
            chosen.append(_planned(pb.items[r], float(p[r]), {k: float(v[r]) for k, v in
                                   parts.items()}, float(score[r]), s, ms, last, now))
    return PracticePlan(chosen, now, s.to_dict())


def _planned(item: Item, p: float, parts: dict[str, float], score: float,
             s: PracticeSettings, ms: Mastery, last: dict[int, tuple[float, int]],
             now: float) -> PlannedItem:
    lo, hi = s.band
    skill_txt = ", ".join(f"skill {k}" for k in item.skills) or "no tagged skill"
    mean = ms.mean  # indexed by skill - 1
    weakest = min(item.skills, key=lambda k: mean[k - 1] if 0 < k <= len(mean) else 1.0,
                  default=0)
    m_weak = float(mean[weakest - 1]) if 0 < weakest <= len(mean) else float("nan")
    detail: dict = {"p": p, "skills": list(item.skills), "band": [lo, hi]}
    if parts["review"] > 0:
        reason = "review"
        ago = now - last[item.id][0]
        detail["ago_s"] = ago
        why = (f"You missed this question {_ago(ago)} ago; bringing it back "
               f"now (predicted success {p:.0%}) helps it stick.")
    elif parts["explore"] > 0.25 * s.w_explore and parts["explore"] >= parts["weakness"] / 2:
        reason = "explore"
        why = (f"We know little yet about your {skill_txt}; this question "
               f"(predicted success {p:.0%}) will tell us the most.")
    elif parts["weakness"] >= 0.5 * s.w_weakness and 0 < weakest <= len(mean):
        reason = "weakness"
        detail.update(skill=weakest, mastery=m_weak)
        why = (f"Practises skill {weakest}, one of your weakest (mastery {m_weak:.0%}), at a "
               f"predicted success of {p:.0%}.")
    else:
        reason = "band"
        inside = lo <= p <= hi
        why = (f"A {'well-matched' if inside else 'nearest-available'} challenge on {skill_txt}: "
               f"predicted success {p:.0%} (target band {lo:.0%}-{hi:.0%}).")
    return PlannedItem(item.id, tuple(item.skills), p, reason, why, score, detail)
