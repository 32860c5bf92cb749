"""`metis bench policy`: practice-set policies against student simulators of other families.

Each simulator of `meta_engine.practice.simulators` (BKT with forgetting; a prerequisite-graph
learner) provides a bank that is served as a new course to the model the workers serve: a
cohort of its students first answers random questions through `meta_engine.serve.run_batch`,
so the course's tables are fitted online as in production; every policy then plans with those
same tables. Each policy meets the same students (same rng streams), so differences are the
policy's. A student answers an optional warm-up of random questions, then `sets` sets of
`set_size` questions in one session (one answer every `gap_s` seconds), each set planned once
from the answers so far, as the loop does.

Per simulator and policy the report gives the true mastery gain after k sets (the simulator's
latent state, mean over skills and students) and the loop's rules as numbers:
- weakest_coverage_true: share of sets with a question of the student's weakest unmastered
  skill by the simulator's truth (any of them when tied, as BKT's unknown skills are);
- weakest_coverage_estimated: the same rule as `select` states it: the weakest skill the model
  thinks unmastered among those already practised;
- longest_run_max / _mean, runs_over_3: the longest run of consecutive questions on one skill;
- early_coverage: share of the bank's skills practised within the first two sets;
- missed_return: share of missed questions (with at least three answers left in the session)
  that came back after at least two other answers; missed_return_too_soon: those that came
  back within two;
- repeat_at_once: the question just answered offered again as the next one (must be 0);
- p_after_3_right / p_after_3_wrong: mean predicted success of the chosen questions at sets
  planned after three right / three wrong answers in a row (and the simulator's true success
  of them, `true_p_...`), with how many sets each mean is over. These compare different
  students as well as different moments (a student on a right streak is often a stronger one),
  so read them beside p_shift_same_student (the same difference within each student who had
  both, then averaged) and p_chosen_mean / p_chosen_in_band (the target band) over all sets.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import click
import numpy as np

from meta_engine.model.serving import (
    Model,
    PreparedBank,
    StudentState,
    adapt_batch,
    mastery,
    predict,
    prepare_bank,
)
from meta_engine.model.tables import CourseTables, InMemoryTableStore
from meta_engine.practice.select import PracticeSettings, select_practice_set, streaks
from meta_engine.practice.simulate import POLICIES, Policy
from meta_engine.practice.simulators import SIMULATORS, Learner, make_simulator
from meta_engine.serve import Event, course_tables, run_batch
from meta_engine.types import Interaction, Item

BASELINES = ("random", "lowest_mastery", "max_info")


@dataclass(frozen=True)
class BenchConfig:
    students: int = 40
    skills: int = 6
    items: int = 60
    sets: int = 5
    set_size: int = 5
    warmup: int = 0  # random questions before the first set (0: the student arrives new)
    cohort: int = 60  # students whose answers fit the course's tables first
    cohort_answers: int = 30
    seed: int = 0
    mastered_at: float = 0.8  # the activity's threshold (workers' default)
    band: tuple[float, float] = (0.6, 0.8)
    gap_s: float = 30.0  # seconds between answers: the whole run is one session
    simulators: tuple[str, ...] = tuple(SIMULATORS)


def metis_policy(bank: PreparedBank, settings: PracticeSettings) -> Policy:
    """Metis as the workers call it (`workers.engine_adapter.practice_settings`: the set's
    size, band and threshold; the rest select's defaults), history and now passed."""

    def pick(model: Model, state: StudentState, _bank: list[Item], hist: list[Interaction],
             now: float, _rng: np.random.Generator, n: int,
             tables: CourseTables | None) -> list[int]:
        plan = select_practice_set(model, state, bank, settings, now, hist, tables=tables)
        return [p.item_id for p in plan.items]

    return pick


def warm_course(model: Model, learner: Learner, bank: list[Item], n_students: int,
                length: int, seed: int) -> CourseTables:
    """The course's tables after `n_students` of the learner's students answered `length`
    random questions each, served 16 students at a time as the workers batch them."""
    store, course = InMemoryTableStore(), f"bench-{learner.name}"
    rng = np.random.default_rng([seed, 99])
    hists: list[list[Interaction]] = []
    for _ in range(n_students):
        st = learner.new_student(rng)
        hist = []
        for t in range(length):
            i = bank[int(rng.integers(len(bank)))].id
            hist.append(Interaction(i, learner.item_skills[i], learner.answer(st, i, rng),
                                    float(t)))
        hists.append(hist)
    for b in range(0, n_students, 16):
        block = list(enumerate(hists[b: b + 16], start=b))
        for t in range(length):
            run_batch(model, store, course, [Event(f"warm{u}:{t}", f"warm{u}", h[: t + 1],
                                                   plan=False) for u, h in block])
    return course_tables(model, course, store.load((model.version, course)))


@dataclass
class PlannedSet:
    items: list[int]
    est_weakest: int | None  # the model's weakest practised unmastered skill, if any
    true_weakest: set[int]  # the simulator's weakest unmastered skills (ties kept)
    right_streak: int
    wrong_streak: int
    p_pred: list[float]
    p_true: list[float]


@dataclass
class StudentLog:
    """One simulated student's session under one policy (warm-up answers excluded)."""

    sets: list[PlannedSet] = field(default_factory=list)
    items: list[int] = field(default_factory=list)
    skills: list[tuple[int, ...]] = field(default_factory=list)
    correct: list[int] = field(default_factory=list)
    mastery: list[float] = field(default_factory=list)  # true mean mastery, before and per set


def longest_run(skills: Sequence[tuple[int, ...]]) -> int:
    """The longest run of consecutive questions sharing one skill."""
    best, runs = 0, dict[int, int]()
    for sk in skills:
        runs = {k: runs.get(k, 0) + 1 for k in sk}
        best = max([best, *runs.values()])
    return best


def _runs_over(skills: Sequence[tuple[int, ...]], limit: int) -> int:
    """Questions answered while some skill's run already exceeded `limit`."""
    n, runs = 0, dict[int, int]()
    for sk in skills:
        runs = {k: runs.get(k, 0) + 1 for k in sk}
        n += any(v > limit for v in runs.values())
    return n


def _mean(xs: Sequence[float]) -> float | None:
    return float(np.mean(xs)) if len(xs) else None


def rule_checks(logs: Sequence[StudentLog], n_skills: int,
                band: tuple[float, float] = (0.6, 0.8)) -> dict[str, Any]:
    """The loop's rules as numbers over the students' sessions (see the module doc)."""
    sets = [s for lg in logs for s in lg.sets]
    cov_true = [any(set(ks) & s.true_weakest for ks in _skills_of(s.items, lg))
                for lg in logs for s in lg.sets if s.true_weakest]
    cov_est = [any(s.est_weakest in ks for ks in _skills_of(s.items, lg))
               for lg in logs for s in lg.sets if s.est_weakest is not None]
    runs = [longest_run(lg.skills) for lg in logs]
    early = [len({k for ks in _skills_of([i for s in lg.sets[:2] for i in s.items], lg)
                  for k in ks}) / n_skills for lg in logs]
    back, soon, repeat = [], 0, 0
    for lg in logs:
        it = lg.items
        repeat += sum(a == b for a, b in zip(it, it[1:], strict=False))
        for t, c in enumerate(lg.correct):
            if c:
                continue
            soon += it[t] in it[t + 1: t + 3]
            if len(it) - t - 1 >= 3:
                back.append(it[t] in it[t + 3:])
    after_r = [s for s in sets if s.right_streak >= 3]
    after_w = [s for s in sets if s.wrong_streak >= 3]
    p_all = [p for s in sets for p in s.p_pred]
    paired = [_paired_shift(lg) for lg in logs]
    shifts = [x for x in paired if x is not None]
    return {
        "weakest_coverage_true": _mean(cov_true), "weakest_coverage_true_n": len(cov_true),
        "weakest_coverage_estimated": _mean(cov_est),
        "weakest_coverage_estimated_n": len(cov_est),
        "longest_run_max": max(runs, default=0), "longest_run_mean": _mean(runs),
        "runs_over_3": sum(_runs_over(lg.skills, 3) for lg in logs),
        "early_coverage": _mean(early),
        "missed_return": _mean(back), "missed_return_n": len(back),
        "missed_return_too_soon": soon,
        "repeat_at_once": repeat,
        "p_after_3_right": _mean([p for s in after_r for p in s.p_pred]),
        "p_after_3_wrong": _mean([p for s in after_w for p in s.p_pred]),
        "true_p_after_3_right": _mean([p for s in after_r for p in s.p_true]),
        "true_p_after_3_wrong": _mean([p for s in after_w for p in s.p_true]),
        "sets_after_3_right": len(after_r), "sets_after_3_wrong": len(after_w),
        "p_shift_same_student": _mean(shifts), "p_shift_students": len(shifts),
        "p_chosen_mean": _mean(p_all),
        "p_chosen_in_band": _mean([band[0] <= p <= band[1] for p in p_all]),
    }


def _paired_shift(lg: StudentLog) -> float | None:
    """Within one student: mean predicted success of the questions chosen after 3 right in a
    row minus after 3 wrong in a row (None unless the student had both); below 0 means harder
    after right answers, without comparing a strong student with a weak one."""
    r = [p for s in lg.sets if s.right_streak >= 3 for p in s.p_pred]
    w = [p for s in lg.sets if s.wrong_streak >= 3 for p in s.p_pred]
    return float(np.mean(r) - np.mean(w)) if r and w else None


def _skills_of(items: Sequence[int], lg: StudentLog) -> list[tuple[int, ...]]:
    where = dict(zip(lg.items, lg.skills, strict=True))
    return [where[i] for i in items]


def _weakest_true(m: np.ndarray, mastered_at: float) -> set[int]:
    open_ = [k for k in range(len(m)) if m[k] < mastered_at]
    if not open_:
        return set()
    lo = min(m[k] for k in open_)
    return {k + 1 for k in open_ if m[k] <= lo + 1e-9}


def _weakest_estimated(model: Model, state: StudentState, skills: list[int],
                       hist: Sequence[Interaction], tables: CourseTables,
                       mastered_at: float) -> int | None:
    tried = {k for x in hist for k in x.skills}
    ms = mastery(model, state, skills, tables)
    open_ = [(float(m), int(k)) for k, m in zip(ms.skills.tolist(), ms.mean, strict=True)
             if int(k) in tried and m < mastered_at]
    return min(open_)[1] if open_ else None


def run_policy(model: Model, learner: Learner, bank: list[Item], tables: CourseTables,
               policy: Policy, cfg: BenchConfig, sim_index: int) -> list[StudentLog]:
    """Every student's session under `policy`; students are adapted in one batch per set."""
    skills = list(range(1, learner.n_skills + 1))
    by_id = {it.id: it for it in bank}
    rngs = [np.random.default_rng([cfg.seed, sim_index, u]) for u in range(cfg.students)]
    prngs = [np.random.default_rng([cfg.seed, sim_index, u, 7]) for u in range(cfg.students)]
    studs = [learner.new_student(r) for r in rngs]
    hists: list[list[Interaction]] = [[] for _ in studs]
    logs = [StudentLog() for _ in studs]

    def answer(u: int, i: int) -> int:
        c = learner.answer(studs[u], i, rngs[u])
        hists[u].append(Interaction(i, learner.item_skills[i], c,
                                    cfg.gap_s * len(hists[u])))
        return c

    for u in range(cfg.students):
        for _ in range(cfg.warmup):
            answer(u, bank[int(rngs[u].integers(len(bank)))].id)
        logs[u].mastery.append(float(learner.true_mastery(studs[u]).mean()))
    for _ in range(cfg.sets):
        states = adapt_batch(model, hists, tables)
        for u, state in enumerate(states):
            hist, lg = hists[u], logs[u]
            now = cfg.gap_s * len(hist)
            chosen = policy(model, state, bank, hist, now, prngs[u], cfg.set_size, tables)
            m = learner.true_mastery(studs[u])
            right, wrong = streaks(hist)
            lg.sets.append(PlannedSet(
                chosen, _weakest_estimated(model, state, skills, hist, tables, cfg.mastered_at),
                _weakest_true(m, cfg.mastered_at), right, wrong,
                [float(p) for p in predict(model, state, [by_id[i] for i in chosen],
                                           tables=tables)],
                [learner.p_correct(studs[u], i) for i in chosen]))
            for i in chosen:
                lg.items.append(i)
                lg.skills.append(learner.item_skills[i])
                lg.correct.append(answer(u, i))
            lg.mastery.append(float(learner.true_mastery(studs[u]).mean()))
    return logs


def summarise(logs: Sequence[StudentLog], n_skills: int, band: tuple[float, float]
              ) -> dict[str, Any]:
    gains = np.array([[m - lg.mastery[0] for m in lg.mastery[1:]] for lg in logs])
    last = gains[:, -1] if gains.size else np.zeros(0)
    return {
        "mastery_gain": [round(float(g), 4) for g in gains.mean(0)] if gains.size else [],
        "mastery_gain_se": float(last.std() / np.sqrt(len(last))) if last.size else None,
        "success_rate": _mean([c for lg in logs for c in lg.correct]),
        "rules": rule_checks(logs, n_skills, band),
    }


def run_bench(model: Model, cfg: BenchConfig) -> dict[str, Any]:
    """The whole comparison (see the module doc): one entry per simulator and policy."""
    t0 = time.perf_counter()
    out: dict[str, Any] = {"benchmark": "policy", "model": model.version,
                           "config": asdict(cfg), "simulators": {}}
    settings = PracticeSettings(n_items=cfg.set_size, band=cfg.band,
                                mastered_at=cfg.mastered_at)
    for si, name in enumerate(cfg.simulators):
        learner = make_simulator(name, cfg.items, cfg.skills, cfg.seed + si)
        bank = [Item(i, sk) for i, sk in sorted(learner.item_skills.items())]
        tables = warm_course(model, learner, bank, cfg.cohort, cfg.cohort_answers, cfg.seed)
        policies: dict[str, Policy] = {"metis": metis_policy(prepare_bank(model, bank),
                                                             settings)}
        policies.update({k: POLICIES[k] for k in BASELINES})
        res: dict[str, Any] = {}
        for pname, pol in policies.items():
            res[pname] = summarise(run_policy(model, learner, bank, tables, pol, cfg, si),
                                   cfg.skills, cfg.band)
        out["simulators"][name] = {
            "policies": res,
            "best": max(res, key=lambda k: res[k]["mastery_gain"][-1]),
        }
    out["elapsed_s"] = round(time.perf_counter() - t0, 1)
    out["host"] = {"python": platform.python_version(), "machine": platform.machine()}
    return out


@click.command("policy")
@click.option("--model", "model_dir", default=None, type=click.Path(exists=True),
              help="Checkpoint dir (default: the shipped core the workers serve).")
@click.option("--students", default=40, show_default=True, type=click.IntRange(min=1))
@click.option("--sets", default=5, show_default=True, type=click.IntRange(min=1))
@click.option("--set-size", default=5, show_default=True, type=click.IntRange(min=1))
@click.option("--skills", default=6, show_default=True, type=click.IntRange(min=1))
@click.option("--items", default=60, show_default=True, type=click.IntRange(min=1))
@click.option("--warmup", default=0, show_default=True, type=click.IntRange(min=0),
              help="Random questions each student answers before the first set.")
@click.option("--cohort", default=60, show_default=True, type=click.IntRange(min=0),
              help="Students whose random answers fit the course's tables first.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--threads", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Also write the report here.")
def policy(model_dir: str | None, students: int, sets: int, set_size: int, skills: int,
           items: int, warmup: int, cohort: int, seed: int, threads: int,
           json_out: Path | None) -> None:
    """Metis, random, lowest-mastery-first and maximum-information sets against BKT with
    forgetting and a prerequisite-graph learner: true mastery gain and the loop's rules."""
    if items < skills:
        raise click.BadParameter(f"{items} items cannot cover {skills} skills",
                                 param_hint="--items")
    if set_size > items:
        raise click.BadParameter(f"a set of {set_size} needs at least that many items "
                                 f"(--items is {items})", param_hint="--set-size")
    import torch

    from meta_engine.api import default_model, load_model

    torch.set_num_threads(threads)
    model = load_model(model_dir, "cpu") if model_dir else default_model()
    cfg = BenchConfig(students=students, skills=skills, items=items, sets=sets,
                      set_size=set_size, warmup=warmup, cohort=cohort, seed=seed)
    report = run_bench(model, cfg)
    text = json.dumps(report, indent=2)
    if json_out is not None:
        json_out.write_text(text + "\n")
    sys.stdout.write(text + "\n")
