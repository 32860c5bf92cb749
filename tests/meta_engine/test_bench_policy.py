"""`metis bench policy`: the simulators behave as designed, the rule numbers count what they say,
and the command end to end (the shipped core, course tables fitted online) reports every
policy and rule."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from meta_engine.bench.policy import (
    BASELINES,
    PlannedSet,
    StudentLog,
    longest_run,
    policy,
    rule_checks,
    streaks,
)
from meta_engine.practice.simulators import (
    BKTForgetting,
    BKTStudent,
    PrereqStudent,
    PrerequisiteLearner,
    make_simulator,
)
from meta_engine.types import Interaction

RULES = ("weakest_coverage_true", "weakest_coverage_estimated", "longest_run_max",
         "longest_run_mean", "runs_over_3", "early_coverage", "missed_return",
         "missed_return_too_soon", "repeat_at_once", "p_after_3_right", "p_after_3_wrong",
         "true_p_after_3_right", "true_p_after_3_wrong", "sets_after_3_right",
         "sets_after_3_wrong", "p_chosen_mean", "p_chosen_in_band",
         "p_shift_same_student")


def _single(learner: BKTForgetting | PrerequisiteLearner, skill: int) -> int:
    return next(i for i, sk in sorted(learner.item_skills.items()) if sk == (skill,))


def test_bkt_forgetting_lowers_mastery_without_practice() -> None:
    sim = BKTForgetting(30, 5, seed=1)
    rng = np.random.default_rng(0)
    students = [sim.new_student(rng) for _ in range(50)]
    for st in students:
        st.known[1:] = True
    before = np.mean([sim.true_mastery(st).mean() for st in students])
    for st in students:
        sim.idle(st, 40, rng)
    after = np.mean([sim.true_mastery(st).mean() for st in students])
    assert before == 1.0
    assert after < 0.6  # forget 1-5% per answer elsewhere: ~40% lost over 40 answers
    # Without forgetting nothing is lost: the drop is the forgetting's, not the bookkeeping's.
    still = BKTForgetting(30, 5, seed=1, forget=(0.0, 0.0))
    st = still.new_student(rng)
    st.known[1:] = True
    still.idle(st, 40, rng)
    assert still.true_mastery(st).mean() == 1.0


def test_bkt_practice_teaches_and_keeps_the_skill_while_others_fade() -> None:
    sim = BKTForgetting(30, 3, seed=2, multi_skill_prob=0.0)
    rng = np.random.default_rng(1)
    item = _single(sim, 1)
    learned, kept, others = [], [], []
    for _ in range(40):
        st = sim.new_student(rng)
        st.known[:] = [False, False, True, True]
        for _ in range(30):
            sim.answer(st, item, rng)
        learned.append(st.known[1])
        st.known[:] = True
        for _ in range(30):
            sim.answer(st, item, rng)
        kept.append(st.known[1])
        others.append(st.known[2:].mean())
    assert np.mean(learned) > 0.9  # P(learn) 0.1-0.35 per try, 30 tries
    assert np.mean(kept) == 1.0  # a skill is not forgotten while it is practised
    assert np.mean(others) < 0.8  # the skills not practised are
    st = BKTStudent(np.array([False, True, False, False]), *(np.full(4, 0.2) for _ in range(4)))
    assert sim.p_correct(st, item) > 0.6 > sim.p_correct(st, _single(sim, 2))


def _child_and_parent(sim: PrerequisiteLearner) -> tuple[int, int]:
    return next((k, ps[0]) for k, ps in sorted(sim.parents.items()) if len(ps) == 1)


def test_prerequisite_graph_is_a_dag_of_earlier_skills() -> None:
    sim = PrerequisiteLearner(60, 6, seed=0)
    assert sim.parents[1] == ()
    assert all(p < k for k, ps in sim.parents.items() for p in ps)
    assert any(sim.parents[k] for k in range(2, 7))


def test_prerequisite_learner_does_not_learn_a_skill_before_its_prerequisite() -> None:
    sim = PrerequisiteLearner(60, 6, seed=0, multi_skill_prob=0.0, blocked_factor=0.0)
    child, parent = _child_and_parent(sim)
    item = _single(sim, child)
    rng = np.random.default_rng(3)
    st = PrereqStudent(np.zeros(7), rate=0.3, ability=0.0)
    for _ in range(20):
        sim.answer(st, item, rng)
    assert st.mastery[child] == 0.0  # blocked: the prerequisite is not mastered
    st.mastery[parent] = sim.prereq_at
    for _ in range(5):
        sim.answer(st, item, rng)
    assert st.mastery[child] > 0.5  # unlocked: it learns at the student's rate


def test_prerequisite_learner_blocked_rate_is_a_small_fraction() -> None:
    sim = PrerequisiteLearner(60, 6, seed=0, multi_skill_prob=0.0)
    child, parent = _child_and_parent(sim)
    item = _single(sim, child)
    gains = {}
    for parent_m in (0.0, 1.0):
        rng = np.random.default_rng(4)  # the same answers' draws both times
        st = PrereqStudent(np.zeros(7), rate=0.2, ability=2.0)
        st.mastery[parent] = parent_m
        for _ in range(5):
            sim.answer(st, item, rng)
        gains[parent_m] = st.mastery[child]
    assert 0.0 < gains[0.0] < 0.25 * gains[1.0]


def test_make_simulator_refuses_unknown_names_and_small_banks() -> None:
    with pytest.raises(ValueError, match="unknown simulator"):
        make_simulator("irt", 10, 2, 0)
    with pytest.raises(ValueError, match="one item per skill"):
        make_simulator("bkt_forgetting", 3, 6, 0)


def _set(items: list[int], weakest: set[int], est: int | None = None, right: int = 0,
         wrong: int = 0, p: float = 0.5) -> PlannedSet:
    return PlannedSet(items, est, weakest, right, wrong, [p] * len(items), [p] * len(items))


def test_rule_checks_count_what_they_say() -> None:
    # Items 1-2 on skill 1, 3-4 on skill 2, 5 on skill 3. Session: 1 1 2 2 3 | 2 1 4 3 5
    # (items 1 and 2 each twice in a row; skill 1 four in a row; item 3 missed and back four
    # answers later; item 1 missed and never back).
    lg = StudentLog(
        sets=[_set([1, 1, 2, 2, 3], {3}, est=3, wrong=3, p=0.7),
              _set([2, 1, 4, 3, 5], {2}, est=1, right=3, p=0.4)],
        items=[1, 1, 2, 2, 3, 2, 1, 4, 3, 5],
        skills=[(1,), (1,), (1,), (1,), (2,), (1,), (1,), (2,), (2,), (3,)],
        correct=[1, 1, 1, 1, 0, 1, 0, 1, 1, 1],
        mastery=[0.1, 0.2, 0.3])
    r = rule_checks([lg], n_skills=3)
    assert r["repeat_at_once"] == 2
    assert r["longest_run_max"] == 4 and r["runs_over_3"] == 1
    assert r["weakest_coverage_true"] == 0.5  # set 1 lacks skill 3, set 2 has skill 2
    assert r["weakest_coverage_estimated"] == 0.5  # the same by the model's weakest
    assert r["early_coverage"] == 1.0
    # Misses with >= 3 answers left: item 3 at t=4 (back at t=8), item 1 at t=6 (never).
    assert r["missed_return"] == 0.5 and r["missed_return_n"] == 2
    assert r["p_after_3_right"] == pytest.approx(0.4)
    assert r["p_after_3_wrong"] == pytest.approx(0.7)
    assert r["p_chosen_mean"] == pytest.approx(0.55)
    assert r["p_shift_same_student"] == pytest.approx(0.4 - 0.7)
    assert r["p_shift_students"] == 1
    assert rule_checks([lg, StudentLog(sets=[_set([1], {1}, right=3)], items=[1],
                                       skills=[(1,)], correct=[1])], 3)["p_shift_students"] == 1
    assert r["p_chosen_in_band"] == 0.5  # the 0.7s are inside 60-80%, the 0.4s are not


def test_streaks_and_runs() -> None:
    h = [Interaction(1, (1,), c) for c in (0, 1, 1, 1)]
    assert streaks(h) == (3, 0) and streaks(h[:1]) == (0, 1) and streaks([]) == (0, 0)
    assert longest_run([(1,), (1, 2), (2,), (2,), (3,)]) == 3


def test_bench_policy_end_to_end(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    out = tmp_path / "policy.json"
    args = ["--students", "6", "--sets", "3", "--set-size", "4", "--skills", "3", "--items",
            "24", "--cohort", "16", "--json", str(out)]
    result = CliRunner().invoke(policy, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert json.loads(out.read_text()) == report
    assert report["config"]["students"] == 6
    assert set(report["simulators"]) == {"bkt_forgetting", "prereq_graph"}
    for sim in report["simulators"].values():
        assert set(sim["policies"]) == {"metis", *BASELINES}
        assert sim["best"] in sim["policies"]
        for res in sim["policies"].values():
            assert len(res["mastery_gain"]) == 3
            assert 0.0 <= res["success_rate"] <= 1.0
            assert set(RULES) <= set(res["rules"])
            for key in RULES:
                v = res["rules"][key]
                assert v is None or isinstance(v, int | float), key
        metis = sim["policies"]["metis"]["rules"]
        # The loop's hard rules hold through the real select_practice_set.
        assert metis["repeat_at_once"] == 0
        assert metis["longest_run_max"] <= 3
        assert metis["weakest_coverage_estimated_n"] > 0


def test_bench_policy_refuses_a_bank_too_small_for_its_skills() -> None:
    result = CliRunner().invoke(policy, ["--items", "3", "--skills", "6"])
    assert result.exit_code == 2
    assert "3 items cannot cover 6 skills" in result.output
    result = CliRunner().invoke(policy, ["--items", "8", "--skills", "2", "--set-size", "9"])
    assert result.exit_code == 2
    assert "a set of 9 needs at least that many items" in result.output
