"""Simulated courses: varied item banks, skills, students and practice, for meta-training a core
that transfers to courses it never saw (and that may be redistributed: no real answer in it).

Two families of learners:

- "irt": P(correct) = guess + (1 - guess) sigmoid(ability + mastery_k - b_i), averaged over the
  item's skills; mastery starts from a course-level mean + a skill-cluster factor (related
  skills start alike) + noise, grows after each practice (more after a right answer), a share
  of the gain spills to the skills of the same cluster, and it decays back toward the start
  with the number of answers since the skill was last practised (forgetting).
- "bkt": a hidden mastered / not-mastered state per skill (Corbett & Anderson): P(learn) per
  practice, P(forget) per answer elsewhere, and per-item guess / slip moved by the item's
  difficulty; the initial P(mastered) rises with the student's ability.

Practice is skill-builder-like: a student works on one skill until `streak` right answers in a
row (or `max_block` answers), then moves on (to the next skill of the curriculum with
probability `p_next`, else any); session lengths are log-normal. A course may have question
ids (items_per_skill > 1) or be skill-level (item 0, as ASSIST2015).

`summary_stats` computes aggregate statistics of any Dataset (success rate, the right-after-
right vs right-after-wrong gap on a skill, learning-curve slope, lengths, run lengths on a
skill); `fit_course_params` searches simulator parameters whose courses match given statistics
(only the statistics of a public dataset are used, never its answers).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from meta_engine.types import Dataset, Sequence


@dataclass(frozen=True)
class CourseParams:
    family: str = "irt"  # irt | bkt
    n_skills: int = 20
    items_per_skill: int = 20  # 1 = skill-level data (no question ids)
    multi_skill: float = 0.1  # share of items with a second skill
    n_clusters: int = 4  # related skills (share a start factor and the spill-over of gains)
    base: float = 0.0  # course-level offset of mastery (logit): how easy the course is
    skill_sd: float = 0.8  # spread of skill difficulties
    item_sd: float = 0.7  # spread of item difficulties around their skill
    ability_sd: float = 0.9
    cluster_sd: float = 0.6
    gain_right: float = 0.25
    gain_wrong: float = 0.10
    spill: float = 0.2  # share of a gain that reaches the other skills of the cluster
    forget: float = 0.01  # per answer since the skill was last practised
    max_mastery: float = 2.5
    guess: float = 0.1
    # bkt family
    p_learn: float = 0.15
    p_forget: float = 0.005
    slip: float = 0.1
    bkt_guess: float = 0.25
    # practice
    streak: int = 3
    max_block: int = 12
    p_next: float = 0.6
    len_median: float = 30.0
    len_sigma: float = 1.0
    max_len: int = 400
    min_len: int = 3

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> CourseParams:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def _sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def sample_params(rng: np.random.Generator, family: str | None = None) -> CourseParams:
    """A course drawn from broad ranges (the prior over courses)."""
    fam = family or ("irt" if rng.random() < 0.6 else "bkt")
    skill_level = rng.random() < 0.25
    n_skills = int(rng.integers(8, 121))
    return CourseParams(
        family=fam, n_skills=n_skills,
        items_per_skill=1 if skill_level else int(rng.integers(3, 80)),
        multi_skill=0.0 if skill_level else float(rng.uniform(0.0, 0.3)),
        n_clusters=int(rng.integers(1, max(2, n_skills // 4) + 1)),
        base=float(rng.uniform(-1.2, 0.8)), skill_sd=float(rng.uniform(0.3, 1.3)),
        item_sd=float(rng.uniform(0.2, 1.4)), ability_sd=float(rng.uniform(0.4, 1.3)),
        cluster_sd=float(rng.uniform(0.0, 0.9)), gain_right=float(rng.uniform(0.05, 0.45)),
        gain_wrong=float(rng.uniform(0.0, 0.25)), spill=float(rng.uniform(0.0, 0.5)),
        forget=float(rng.uniform(0.0, 0.04)), max_mastery=float(rng.uniform(1.5, 3.5)),
        guess=float(rng.uniform(0.0, 0.25)), p_learn=float(rng.uniform(0.05, 0.35)),
        p_forget=float(rng.uniform(0.0, 0.02)), slip=float(rng.uniform(0.03, 0.2)),
        bkt_guess=float(rng.uniform(0.1, 0.4)), streak=int(rng.integers(2, 5)),
        max_block=int(rng.integers(5, 25)), p_next=float(rng.uniform(0.2, 0.9)),
        len_median=float(rng.uniform(12, 60)), len_sigma=float(rng.uniform(0.6, 1.3)),
    )


class CourseSim:
    """One simulated course: its bank (items, skills, difficulties) and its learners."""

    def __init__(self, params: CourseParams, seed: int) -> None:
        self.p = params
        rng = np.random.default_rng(seed)
        self.rng = rng
        s = params.n_skills
        self.cluster = rng.integers(0, max(params.n_clusters, 1), size=s + 1)
        self.skill_diff = np.concatenate([[0.0], rng.normal(0.0, params.skill_sd, s)])
        self.skill_only = params.items_per_skill <= 1
        self.items_of_skill: dict[int, np.ndarray] = {}
        self.item_skills: dict[int, tuple[int, ...]] = {}
        diffs = [0.0]
        n = 0
        for k in range(1, s + 1):
            ids = []
            for _ in range(1 if self.skill_only else params.items_per_skill):
                n += 1
                sk = [k]
                if s > 1 and rng.random() < params.multi_skill:
                    other = int(rng.integers(1, s + 1))
                    if other != k:
                        sk.append(other)
                self.item_skills[n] = tuple(sorted(sk))
                diffs.append(float(rng.normal(0.0, params.item_sd)))
                ids.append(n)
            self.items_of_skill[k] = np.array(ids, dtype=np.int64)
        self.item_diff = np.array(diffs)
        # Items are not equally popular: a Zipf-like weight within each skill.
        self.weights = {k: (1.0 / np.arange(1, len(v) + 1) ** rng.uniform(0.0, 1.2))
                        for k, v in self.items_of_skill.items()}
        for k in self.weights:
            self.weights[k] = self.weights[k] / self.weights[k].sum()
        self.n_items = n

    def _length(self, rng: np.random.Generator) -> int:
        x = int(round(self.p.len_median * math.exp(self.p.len_sigma * rng.normal())))
        return max(self.p.min_len, min(self.p.max_len, x))

    def student(self, rng: np.random.Generator, name: str) -> Sequence:
        p, s = self.p, self.p.n_skills
        ability = rng.normal(0.0, p.ability_sd)
        cl = rng.normal(0.0, p.cluster_sd, size=max(p.n_clusters, 1))
        start = p.base + cl[self.cluster] + rng.normal(0.0, 0.4, size=s + 1) - self.skill_diff
        mastery = start.copy()
        known = np.zeros(s + 1, dtype=bool)
        if p.family == "bkt":
            p0 = 1.0 / (1.0 + np.exp(-(ability - 1.0 + p.base + cl[self.cluster]
                                       - self.skill_diff)))
            known = rng.random(s + 1) < p0
        last_seen = np.full(s + 1, -1)
        length = self._length(rng)
        items: list[int] = []
        skills: list[tuple[int, ...]] = []
        correct: list[int] = []
        skill = int(rng.integers(1, s + 1))
        t = 0
        while t < length:
            run = 0
            for _ in range(p.max_block):
                if t >= length:
                    break
                pool = self.items_of_skill[skill]
                it = int(rng.choice(pool, p=self.weights[skill]))
                if not self.skill_only and items and it == items[-1] and pool.size > 1:
                    it = int(rng.choice(pool))
                sk = self.item_skills[it]
                if p.family == "irt":
                    for k in sk:  # forgetting since the skill was last practised
                        if last_seen[k] >= 0:
                            gap = t - last_seen[k]
                            mastery[k] = start[k] + (mastery[k] - start[k]) * \
                                math.exp(-p.forget * gap)
                    z = ability + float(np.mean([mastery[k] for k in sk])) - self.item_diff[it]
                    pc = p.guess + (1 - p.guess) * _sig(z)
                else:
                    for k in sk:
                        if known[k] and last_seen[k] >= 0 and \
                                rng.random() < 1 - (1 - p.p_forget) ** (t - last_seen[k]):
                            known[k] = False
                    b = self.item_diff[it]
                    if all(known[k] for k in sk):
                        pc = 1.0 - _sig(math.log(p.slip / (1 - p.slip)) + b)
                    else:
                        pc = _sig(math.log(p.bkt_guess / (1 - p.bkt_guess)) - b)
                c = int(rng.random() < pc)
                items.append(0 if self.skill_only else it)
                skills.append(sk)
                correct.append(c)
                for k in sk:
                    last_seen[k] = t
                    if p.family == "irt":
                        g = p.gain_right if c else p.gain_wrong
                        mastery[k] = min(p.max_mastery, mastery[k] + g)
                        same = np.flatnonzero(self.cluster == self.cluster[k])
                        same = same[(same > 0) & (same != k)]
                        if same.size and p.spill > 0:
                            mastery[same] = np.minimum(p.max_mastery,
                                                       mastery[same] + p.spill * g)
                    elif not known[k] and rng.random() < p.p_learn * (1.5 if c else 1.0):
                        known[k] = True
                t += 1
                run = run + 1 if c else 0
                if run >= p.streak:
                    break
            if rng.random() < p.p_next:
                skill = skill % s + 1
            else:
                skill = int(rng.integers(1, s + 1))
        k = max(len(x) for x in skills)
        sk_arr = np.zeros((len(skills), k), dtype=np.int64)
        for r, x in enumerate(skills):
            sk_arr[r, : len(x)] = x
        return Sequence(name, np.array(items, dtype=np.int64), sk_arr,
                        np.array(correct, dtype=np.int64),
                        np.arange(len(items), dtype=np.float64))

    def dataset(self, n_students: int, seed: int, name: str = "course") -> Dataset:
        rng = np.random.default_rng(seed)
        seqs = [self.student(rng, f"{name}-{u}") for u in range(n_students)]
        k = max(s.skills.shape[1] for s in seqs)
        for s in seqs:
            if s.skills.shape[1] < k:
                wide = np.zeros((len(s), k), dtype=np.int64)
                wide[:, : s.skills.shape[1]] = s.skills
                s.skills = wide
        item_skills = {} if self.skill_only else dict(self.item_skills)
        return Dataset(name, seqs, 0 if self.skill_only else self.n_items, self.p.n_skills,
                       item_skills)


def simulate_course(params: CourseParams, n_students: int, seed: int,
                    name: str = "course") -> Dataset:
    return CourseSim(params, seed).dataset(n_students, seed + 1, name)


# -- summary statistics and the fit to them -----------------------------------------------------
STAT_KEYS = ("p_correct", "after_right", "after_wrong", "first_on_skill", "later_on_skill",
             "len_median", "len_mean", "same_skill_next")


def summary_stats(ds: Dataset) -> dict[str, float]:
    """Aggregate statistics of a dataset (no answer leaves this function)."""
    ys: list[int] = []
    ar: list[int] = []
    aw: list[int] = []
    first: list[int] = []
    later: list[int] = []
    same: list[int] = []
    lens = []
    for s in ds.sequences:
        lens.append(len(s))
        last: dict[int, int] = {}
        prev_skill = -1
        for t in range(len(s)):
            k = int(s.skills[t, 0])
            c = int(s.correct[t])
            ys.append(c)
            if k in last:
                (ar if last[k] else aw).append(c)
                later.append(c)
            else:
                first.append(c)
            same.append(int(k == prev_skill))
            last[k] = c
            prev_skill = k

    def m(x: list[int]) -> float:
        return float(np.mean(x)) if x else float("nan")

    return {"p_correct": m(ys), "after_right": m(ar), "after_wrong": m(aw),
            "first_on_skill": m(first), "later_on_skill": m(later),
            "len_median": float(np.median(lens)), "len_mean": float(np.mean(lens)),
            "same_skill_next": m(same)}


def stat_distance(a: dict[str, float], b: dict[str, float]) -> float:
    """Distance between two sets of statistics: rates on their scale, lengths in logs."""
    d = 0.0
    for k in STAT_KEYS:
        if k.startswith("len"):
            d += (math.log(a[k]) - math.log(b[k])) ** 2 * 0.05
        else:
            d += (a[k] - b[k]) ** 2
    return d


def fit_course_params(target: dict[str, float], trials: int = 60, n_students: int = 150,
                      seed: int = 0, skill_level: bool = False, n_skills: int | None = None
                      ) -> tuple[CourseParams, dict[str, float], float]:
    """Random search (then a local refinement) for simulator parameters whose courses have
    statistics close to `target`. Returns (params, their statistics, distance)."""
    rng = np.random.default_rng(seed)
    best: tuple[CourseParams, dict[str, float], float] | None = None

    def shape(p: CourseParams) -> CourseParams:
        if skill_level:
            p = replace(p, items_per_skill=1, multi_skill=0.0)
        elif p.items_per_skill <= 1:
            p = replace(p, items_per_skill=20)
        if n_skills:
            p = replace(p, n_skills=n_skills)
        return replace(p, max_len=min(p.max_len, 300))

    def score(p: CourseParams, k: int) -> tuple[dict[str, float], float]:
        st = summary_stats(simulate_course(p, n_students, seed * 1000 + k))
        return st, stat_distance(st, target)

    for k in range(trials):
        p = shape(sample_params(rng))
        st, d = score(p, k)
        if best is None or d < best[2]:
            best = (p, st, d)
    assert best is not None
    # Local refinement: jitter the continuous parameters of the best.
    cont = ("base", "skill_sd", "item_sd", "ability_sd", "gain_right", "gain_wrong", "forget",
            "guess", "p_learn", "slip", "bkt_guess", "p_next", "len_median", "len_sigma",
            "spill", "cluster_sd")
    for k in range(trials // 2):
        p = best[0]
        changes: dict[str, Any] = {}
        for name in cont:
            if rng.random() < 0.4:
                v = float(getattr(p, name))
                scale = 0.15 * (abs(v) + 0.1)
                changes[name] = float(max(0.0, v + rng.normal(0.0, scale))) if name != "base" \
                    else float(v + rng.normal(0.0, 0.2))
        q = shape(replace(p, **changes))
        if q.family == "bkt":
            q = replace(q, slip=min(q.slip, 0.45), bkt_guess=min(q.bkt_guess, 0.6))
        q = replace(q, guess=min(q.guess, 0.5), p_next=min(q.p_next, 1.0),
                    len_median=max(q.len_median, 4.0), len_sigma=max(q.len_sigma, 0.2))
        st, d = score(q, trials + k)
        if d < best[2]:
            best = (q, st, d)
    return best


def jitter(params: CourseParams, rng: np.random.Generator, scale: float = 0.2
           ) -> CourseParams:
    """A course like `params` (same family and shape, parameters moved by about `scale`)."""
    out: dict[str, Any] = {}
    for name in ("base", "skill_sd", "item_sd", "ability_sd", "gain_right", "gain_wrong",
                 "forget", "guess", "p_learn", "slip", "bkt_guess", "p_next", "spill",
                 "cluster_sd"):
        v = float(getattr(params, name))
        if name == "base":
            out[name] = v + float(rng.normal(0.0, scale))
        else:
            out[name] = max(0.0, v * float(np.exp(rng.normal(0.0, scale))))
    out["n_skills"] = max(4, int(params.n_skills * float(np.exp(rng.normal(0.0, scale)))))
    q = replace(params, **out)
    return replace(q, guess=min(q.guess, 0.5), slip=min(q.slip, 0.45),
                   bkt_guess=min(q.bkt_guess, 0.6), p_next=min(q.p_next, 1.0))
