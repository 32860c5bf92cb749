"""Choosing a student's next practice set, with a one-sentence reason per item.

Score of a candidate (higher is better), from the adapted student state:
- band:        predicted success inside the target band (default 60-80%): desirable difficulty;
- target:      within the band, harder after right answers in a row, easier after wrong ones;
- weakness:    1 - mastery of the item's skills, so weak skills get practice;
- review:      a missed item comes back (spacing);
- exploration: the Laplace sd of the item's skills, where the model is unsure.
Rules, in this order, each kept when the bank allows it:
- the items answered in the last `hold_back_answers` answers wait (never offered again at once);
- one missed item, once `review_after_answers` other answers followed it, comes back;
- every set has an item of the weakest practised skill not yet mastered (`mastered_at`);
- while some skill of the bank was never tried, every set has an item of one (so every skill
  in scope is practised early);
- a skill appears at most `max_per_skill` times in a set, and never more than `max_run`
  questions in a row (counting the end of the student's history), unless nothing else is left.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from meta_engine.model.resume import ResumePoint
from meta_engine.model.serving import (
    Mastery,
    Model,
    PreparedBank,
    StudentState,
    bank_logits,
    mastery,
    mastery_skills,
    prepare_bank,
)
from meta_engine.model.tables import CourseTables
from meta_engine.practice.reasons import say_item
from meta_engine.types import Interaction, Item


@dataclass
class PracticeSettings:
    n_items: int = 5
    band: tuple[float, float] = (0.6, 0.8)
    hold_back: float = 0.0  # items answered less than this long ago (timestamp units) wait
    hold_back_answers: int = 2  # ... and the items of the last this many answers
    review_after: float = 86400.0  # a missed item is brought back once this much time passed
    review_after_answers: int = 2  # ... or once this many other answers followed it
    max_per_skill: int = 2
    max_run: int = 3  # questions in a row on one skill
    mastered_at: float = 0.8  # the activity's threshold: the one meaning of "mastered"
    w_band: float = 4.0
    w_target: float = 1.0
    w_weakness: float = 1.0
    w_review: float = 1.0
    w_explore: float = 0.5
    explore_sd: float = 0.5  # a skill whose logit sd exceeds this counts as "unsure"
    # A bank larger than this is first shortlisted by a cheap prediction (no attention over
    # the history): the best `shortlist` overall and the best `shortlist_per_skill` of each
    # skill go on to the full scoring, so a set's cost does not grow with the bank.
    # (adapt + select on a 1,000-item bank, one thread: 9.3 -> 7.2 ms p50 with these values,
    # benchmarks/2026-12-03/latency.py.)
    shortlist_above: int = 256
    shortlist: int = 128
    shortlist_per_skill: int = 8

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class PlannedItem:
    item_id: int
    skills: tuple[int, ...]
    p_correct: float
    reason: str  # band | weakness | review | explore | new (practice.reasons)
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


def _last_answers(history: Sequence[Interaction], earlier: ResumePoint | None = None
                  ) -> dict[int, tuple[float, int]]:
    """Each answered question's last (timestamp, correct); `earlier` summarises the answers
    before `history` (see meta_engine.model.resume)."""
    last: dict[int, tuple[float, int]] = (
        {k: (v.timestamp, v.correct) for k, v in earlier.items.items()} if earlier else {})
    for x in history:
        if x.item:
            last[x.item] = (x.timestamp, x.correct)
    return last


@dataclass(frozen=True)
class _Recent:
    """What the end of the history says: how many answers ago each item was last answered,
    the right / wrong streak, and the runs of questions in a row per skill."""

    ago: dict[int, int]
    right_streak: int
    wrong_streak: int
    runs: dict[int, int]


def streaks(history: Sequence[Interaction]) -> tuple[int, int]:
    """(right, wrong) answers in a row at the end of `history` (one of them is 0)."""
    right = wrong = 0
    for x in reversed(history):
        if x.correct and not wrong:
            right += 1
        elif not x.correct and not right:
            wrong += 1
        else:
            break
    return right, wrong


def _recent(history: Sequence[Interaction], earlier: ResumePoint | None = None) -> _Recent:
    """The streaks and runs need only the end of the history (they are capped well below
    the `window` + 1 answers a resumed history keeps); `ago` needs every question's last."""
    first = earlier.n if earlier else 0
    n = first + len(history)
    ago = {k: n - 1 - v.position for k, v in earlier.items.items()} if earlier else {}
    for i, x in enumerate(history, start=first):
        if x.item:
            ago[x.item] = n - 1 - i
    right, wrong = streaks(history)
    runs: dict[int, int] = {}
    for x in history:
        skills = {k for k in x.skills if k > 0}
        runs = {k: runs.get(k, 0) + 1 for k in skills}
    return _Recent(ago, right, wrong, runs)


def _target(band: tuple[float, float], recent: _Recent) -> float:
    """Where in the band to aim: the middle, moved toward the hard end by right answers in a
    row and toward the easy end by wrong ones (a full half-band after three)."""
    lo, hi = band
    half = (hi - lo) / 2
    shift = (min(recent.wrong_streak, 3) - min(recent.right_streak, 3)) / 3
    return lo + half + half * shift


def _missed(history: Sequence[Interaction], earlier: ResumePoint | None) -> set[int]:
    """Questions answered wrong at least once."""
    out = {k for k, v in earlier.items.items() if v.missed} if earlier else set()
    return out | {x.item for x in history if x.item and not x.correct}


def _shortlist(pb: PreparedBank, p: np.ndarray, s: PracticeSettings,
               history: Sequence[Interaction], earlier: ResumePoint | None) -> np.ndarray:
    """The rows of a large bank worth scoring in full: by the prediction's fit to the
    target, the best overall and the best of each skill, and every missed question (the
    review rule may bring one back)."""
    fit = -np.abs(p - _target(s.band, _recent(history, earlier)))
    keep = np.zeros(len(pb), dtype=bool)
    keep[np.argsort(-fit, kind="stable")[: s.shortlist]] = True
    first = pb.skills[:, 0]
    order = np.lexsort((-fit, first))  # by skill, best first within each
    sorted_first = first[order]
    starts = np.flatnonzero(np.r_[True, sorted_first[1:] != sorted_first[:-1]])
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    keep[order[rank < s.shortlist_per_skill]] = True
    missed = _missed(history, earlier)
    if missed:
        keep |= np.isin(pb.ids, list(missed))
    return np.flatnonzero(keep)


def _build(pool: list[int], item_skills: Mapping[int, tuple[int, ...]], runs: dict[int, int],
           n_pick: int, max_per_skill: int, max_run: int) -> tuple[list[int], bool]:
    """The set, in order: at each place the first of `pool` (forced items, then best first)
    that keeps every skill within `max_per_skill` in the set and `max_run` questions in a row
    (counting the runs the history ends with); the cap per set is relaxed first, then the
    runs, only when nothing else is left."""
    out: list[int] = []
    taken: set[int] = set()
    per: dict[int, int] = {}
    runs = dict(runs)
    relaxed = False

    def run_ok(r: int) -> bool:
        return all(runs.get(k, 0) < max_run for k in item_skills[r])

    def cap_ok(r: int) -> bool:
        return all(per.get(k, 0) < max_per_skill for k in item_skills[r])

    while len(out) < n_pick:
        left = [r for r in pool if r not in taken]
        if not left:
            break
        pick = next((r for r in left if run_ok(r) and cap_ok(r)), None)
        if pick is None:
            relaxed = True
            pick = next((r for r in left if run_ok(r)), left[0])
        out.append(pick)
        taken.add(pick)
        for k in item_skills[pick]:
            per[k] = per.get(k, 0) + 1
        runs = {k: runs.get(k, 0) + 1 for k in item_skills[pick]}
    return out, relaxed


def select_practice_set(model: Model, state: StudentState, bank: Sequence[Item] | PreparedBank,
                        settings: PracticeSettings | None = None, now: float = 0.0,
                        history: Sequence[Interaction] | None = None,
                        use_item_residuals: bool = True,
                        item_residuals: Mapping[int, float] | None = None,
                        state_mastery: Mastery | None = None,
                        tables: CourseTables | None = None,
                        names: Mapping[int, str] | None = None,
                        earlier: ResumePoint | None = None) -> PracticePlan:
    """The next set for `state` from `bank` (course ids throughout). A caller that plans many
    students on one bank passes it once through `prepare_bank`; one that already has the
    mastery of the bank's skills passes it as `state_mastery` (both only save time). `tables`:
    the course's tables (default: the model's own); `names` only words `why`. `earlier`:
    the answers before `history`, summarised (a resumed student; None: `history` is all)."""
    return _select(model, state, bank, settings or PracticeSettings(), now, history or [],
                   use_item_residuals, item_residuals, state_mastery, tables, names,
                   earlier)[0]


def select_with_mastery(model: Model, state: StudentState, bank: PreparedBank,
                        skills: Sequence[int], settings: PracticeSettings | None = None,
                        now: float = 0.0, history: Sequence[Interaction] | None = None,
                        tables: CourseTables | None = None,
                        names: Mapping[int, str] | None = None,
                        earlier: ResumePoint | None = None) -> tuple[PracticePlan, Mastery]:
    """`select_practice_set` and the `mastery` of `skills` (which must hold the bank's), the
    two from one pass of the network over the candidates and the skills together: a worker
    needs both after every answer, and each pass has a fixed cost of about 2 ms."""
    plan, ms = _select(model, state, bank, settings or PracticeSettings(), now, history or [],
                       True, None, None, tables, names, earlier, skills)
    assert ms is not None
    return plan, ms


def _select(model: Model, state: StudentState, bank: Sequence[Item] | PreparedBank,
            s: PracticeSettings, now: float, history: Sequence[Interaction],
            use_item_residuals: bool, item_residuals: Mapping[int, float] | None,
            state_mastery: Mastery | None, tables: CourseTables | None,
            names: Mapping[int, str] | None, earlier: ResumePoint | None,
            mastery_of: Sequence[int] | None = None
            ) -> tuple[PracticePlan, Mastery | None]:
    """The set (see `select_practice_set`) and, with `mastery_of`, the mastery of those
    skills predicted in the same pass (`select_with_mastery`)."""
    if not bank:
        empty = mastery(model, state, mastery_of, tables) if mastery_of is not None else None
        return PracticePlan([], now, s.to_dict()), empty
    pb = prepare_bank(model, bank)
    # One pass of the network gives the whole bank's predictions (its cost is per distinct
    # skill row and answered question, not per question: `bank_logits`) and the mastery.
    skills = pb.skills
    bank_skills = np.unique(skills[skills > 0])
    if state_mastery is None and mastery_of is None:
        mastery_of = []  # the bank's skills are needed anyway
    sk = mastery_skills([*mastery_of, *bank_skills.tolist()]) if mastery_of is not None \
        else np.zeros(0, dtype=np.int64)
    z, zs = bank_logits(model, state, pb, tables, item_residuals, use_item_residuals,
                        extra=sk[:, None])
    ms = mastery(model, state, sk.tolist(), tables, logits=zs) if mastery_of is not None \
        else state_mastery
    assert ms is not None
    if len(pb) > s.shortlist_above:
        # Scoring and ordering are per question: a large bank only on its shortlist.
        keep = _shortlist(pb, 1.0 / (1.0 + np.exp(-z)), s, history, earlier)
        pb, z = pb.subset(keep), z[keep]
        skills = pb.skills
        bank_skills = np.unique(skills[skills > 0])
    ids = pb.ids
    p = 1.0 / (1.0 + np.exp(-z))
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
    last = _last_answers(history, earlier)
    recent = _recent(history, earlier)
    target = _target(s.band, recent)
    target_fit = -np.abs(p - target) / max(hi - lo, 1e-6)
    review = np.zeros(len(pb))
    held = np.zeros(len(pb), dtype=bool)
    # Only answered items can be held back or reviewed: walk the history, not the bank.
    for item_id, (t, c) in last.items():
        answers_ago = recent.ago[item_id]
        if answers_ago < s.hold_back_answers or now - t < s.hold_back:
            held |= ids == item_id
        elif c == 0 and (answers_ago >= s.review_after_answers or now - t >= s.review_after):
            review[ids == item_id] = 1.0
    parts = {"band": s.w_band * band_fit, "target": s.w_target * target_fit,
             "weakness": s.w_weakness * weakness, "review": s.w_review * review,
             "explore": s.w_explore * explore}
    score = sum(parts.values())
    # Held-back items are used only if the rest of the bank cannot fill the set.
    score = np.where(held, score - 1e6, score)
    tried = {int(k) for k, n in state.attempts().items() if n > 0}
    order = np.argsort(-score, kind="stable")
    forced: list[int] = []

    def force(mask: np.ndarray, key: np.ndarray) -> None:
        """The free row of `mask` with the highest `key`, unless already forced."""
        mask = mask & ~held
        mask[forced] = False
        rows = np.flatnonzero(mask)
        if rows.size and len(forced) < s.n_items:
            forced.append(int(rows[np.argmax(key[rows])]))

    def has(skill_ids: Sequence[int]) -> np.ndarray:
        return np.asarray(np.isin(skills, list(skill_ids)).any(1), dtype=bool)

    # One missed item back (the longest waiting), the weakest unmastered practised skill, and
    # a skill never tried while one is left. Masks over the bank's arrays, not Python loops:
    # a bank may have tens of thousands of questions.
    if s.w_review > 0 and review.any():
        waited = np.zeros(len(pb))
        for r in np.flatnonzero(review > 0):
            waited[r] = recent.ago.get(int(ids[r]), 0)
        force(review > 0, waited)
    open_skills = [int(k) for k in bank_skills.tolist()
                   if int(k) in tried and ms.mean[where[int(k)]] < s.mastered_at]
    weakest: int | None = None
    if open_skills:
        weakest = min(open_skills, key=lambda k: ms.mean[where[k]])
        if not any(weakest in pb.items[r].skills for r in forced):
            force(has([weakest]), score)
    untried = {int(k) for k in bank_skills.tolist()} - tried
    if untried and not any(set(pb.items[r].skills) & untried for r in forced):
        force(has(sorted(untried)), score)
    n_pick = min(s.n_items, len(pb))
    # The best few hundred by score are enough to keep the per-skill and run rules unless
    # the bank is dominated by a skill; then the whole bank, in score order.
    rows: list[int] = []
    for depth in (max(64 * n_pick, 256), len(pb)):
        top = [int(r) for r in order[:depth] if int(r) not in forced]
        pool = forced + top
        item_skills = {r: tuple(k for k in pb.items[r].skills if k > 0) for r in pool}
        rows, relaxed = _build(pool, item_skills, recent.runs, n_pick, s.max_per_skill,
                               s.max_run)
        if not relaxed or depth >= len(pb):
            break
    chosen = [_planned(pb.items[r], float(p[r]), {k: float(v[r]) for k, v in parts.items()},
                       float(score[r]), s, ms, where, last, now, names, tried, weakest)
              for r in rows]
    return PracticePlan(chosen, now, s.to_dict()), ms


def _planned(item: Item, p: float, parts: dict[str, float], score: float,
             s: PracticeSettings, ms: Mastery, where: dict[int, int],
             last: dict[int, tuple[float, int]], now: float,
             names: Mapping[int, str] | None, tried: set[int],
             weakest_open: int | None = None) -> PlannedItem:
    lo, hi = s.band
    skills = [k for k in item.skills if k > 0]
    practised = [k for k in skills if k in tried]
    weakest = min(practised, key=lambda k: ms.mean[where[k]] if k in where else 1.0,
                  default=0)
    detail: dict = {"p": p, "skills": skills, "band": [lo, hi]}
    if parts["review"] > 0 and item.id in last:
        reason = "review"
        detail["ago_s"] = now - last[item.id][0]
    elif skills and not practised:
        reason = "new"  # never "one of your weakest": nothing is known about it yet
    elif weakest_open is not None and weakest_open in practised:
        # The set's question on the weakest skill not yet mastered says so, however unsure
        # the model still is about it.
        reason = "weakness"
        detail.update(skill=int(weakest_open), mastery=float(ms.mean[where[weakest_open]]))
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
