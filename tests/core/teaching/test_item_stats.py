"""The item statistics on simulated classes where the right answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from lti_tool.core.teaching.item_stats import (
    MIN_ATTEMPTS_FOR_FLAGS,
    ItemStat,
    Response,
    fit_rasch,
    item_flags,
    item_rest_correlation,
    item_statistics,
    natural_key,
    wilson_interval,
)


def simulate(difficulties: list[float], students: int, *, seed: int = 0,
             slopes: list[float] | None = None, answered: float = 1.0) -> list[Response]:
    """A class answering under a 2PL model (slope 1 = Rasch); each student sees each item
    with probability `answered`."""
    rng = np.random.default_rng(seed)
    slopes = slopes or [1.0] * len(difficulties)
    out: list[Response] = []
    for s in range(students):
        theta = rng.normal()
        for i, (b, a) in enumerate(zip(difficulties, slopes, strict=True)):
            if rng.random() > answered:
                continue
            p = 1.0 / (1.0 + np.exp(-a * (theta - b)))
            out.append(Response(s, 100 + i, bool(rng.random() < p)))
    return out


def test_rasch_recovers_known_difficulties() -> None:
    truth = [-2.0, -1.0, -0.3, 0.0, 0.5, 1.2, 2.0]
    fit = fit_rasch(simulate(truth, 600, seed=1))
    got = [fit.difficulty[100 + i] for i in range(len(truth))]
    assert np.corrcoef(truth, got)[0, 1] > 0.99
    # The ability prior pins the scale to the class: difficulties come back within a few tenths.
    assert np.max(np.abs(np.asarray(got) - np.asarray(truth))) < 0.35
    assert got == sorted(got)  # the order of difficulty is exact


def test_rasch_on_sparse_adaptive_answers_keeps_the_order() -> None:
    truth = [-1.5, 0.0, 1.5]
    fit = fit_rasch(simulate(truth, 400, seed=2, answered=0.5))
    got = [fit.difficulty[100 + i] for i in range(3)]
    assert got[0] < got[1] < got[2]
    assert abs(got[0] + 1.5) < 0.5 and abs(got[2] - 1.5) < 0.5


def test_rasch_stays_finite_when_everyone_is_right() -> None:
    fit = fit_rasch([Response(s, 1, True) for s in range(30)] +
                    [Response(s, 2, s % 2 == 0) for s in range(30)])
    assert np.isfinite(fit.difficulty[1]) and fit.difficulty[1] < fit.difficulty[2]
    assert fit_rasch([]).difficulty == {}


def test_item_rest_correlation_finds_random_and_reversed_items() -> None:
    # Items 0-3 behave; item 4 is a coin flip (slope 0); item 5 has its key reversed.
    responses = simulate([-0.5, 0.0, 0.3, 0.8, 0.0, 0.0], 500, seed=3,
                         slopes=[1.5, 1.5, 1.5, 1.5, 0.0, -1.5])
    corr = item_rest_correlation(responses)
    for i in range(4):
        value, n = corr[100 + i]
        assert value is not None and value > 0.2 and n == 500
    coin, _ = corr[104]
    reversed_, _ = corr[105]
    assert coin is not None and abs(coin) < 0.1
    assert reversed_ is not None and reversed_ < -0.2


def test_item_rest_correlation_with_hand_computed_numbers() -> None:
    # Three students, two items: the rest score of item 1 is the item-2 score and vice versa.
    rows = [Response(0, 1, True), Response(0, 2, True), Response(1, 1, True),
            Response(1, 2, False), Response(2, 1, False), Response(2, 2, False)]
    corr = item_rest_correlation(rows)
    # x = [1, 1, 0], rest = [1, 0, 0]: r = 0.5
    assert corr[1][0] == pytest.approx(0.5)
    assert corr[2][0] == pytest.approx(0.5)
    # A student with a single item has no rest score; fewer than three students: None.
    assert item_rest_correlation(rows[:4] + [Response(9, 3, True)])[3] == (None, 0)


def test_flags_need_enough_attempts() -> None:
    n = MIN_ATTEMPTS_FOR_FLAGS
    assert item_flags(n, 0.97, 0.4, 30) == ["too easy: 97% of answers are right"]
    assert item_flags(n, 0.15, 0.4, 30) == ["too hard: only 15% of answers are right"]
    assert item_flags(n - 1, 0.99, 0.4, 30) == []
    assert item_flags(n, 0.6, 0.4, 30) == []
    flags = item_flags(n, 0.6, -0.2, 30)
    assert len(flags) == 1 and flags[0].startswith("misbehaving") and "-0.20" in flags[0]
    assert item_flags(n, 0.6, 0.05, 5) == []  # too few students to judge discrimination
    assert item_flags(n, 0.6, None, 30) == []
    # Under the minimum of answers nothing is flagged, a reversed key included.
    assert item_flags(n - 1, 0.6, -0.5, 30) == []


@pytest.mark.parametrize(("right", "answers", "low", "high"), [
    (4, 10, 0.168, 0.687), (0, 5, 0.0, 0.434), (10, 10, 0.722, 1.0), (50, 100, 0.404, 0.596),
])
def test_wilson_interval_matches_the_textbook(right: int, answers: int, low: float,
                                              high: float) -> None:
    lo, hi = wilson_interval(right, answers)
    assert lo == pytest.approx(low, abs=1e-3) and hi == pytest.approx(high, abs=1e-3)


def test_share_right_in_words_narrows_with_evidence() -> None:
    few = ItemStat(1, 5, 2, 5, None, None)
    many = ItemStat(1, 500, 200, 90, None, None)
    assert few.share_in_words == "40% right (likely 12-77%)"
    assert many.share_in_words == "40% right (likely 36-44%)"
    assert ItemStat(1, 0, 0, 0, None, None).share_in_words == "no answers"


def test_natural_order_of_question_names() -> None:
    names = ["Q10", "q2", "Q1", "Q2b", "Fractions 3", "fractions 12", "Q 3"]
    assert sorted(names, key=natural_key) == [
        "Fractions 3", "fractions 12", "Q1", "q2", "Q2b", "Q 3", "Q10"]


def test_item_statistics_puts_it_together() -> None:
    # 100 very easy, 102 very hard, 103 reversed; the others ordinary.
    responses = simulate([-4.0, 0.0, 4.0, 0.0, -0.5, 0.5, 1.0], 300, seed=4,
                         slopes=[1.0, 1.5, 1.0, -1.5, 1.5, 1.5, 1.5])
    stats = {s.item: s for s in item_statistics(responses)}
    assert [s.attempts for s in stats.values()] == [300] * 7
    assert stats[100].p_correct > 0.95 and stats[100].flags[0].startswith("too easy")
    assert stats[102].p_correct < 0.2 and stats[102].flags[0].startswith("too hard")
    assert stats[101].flags == []
    assert any(f.startswith("misbehaving") for f in stats[103].flags)
    d = [stats[100 + i].difficulty for i in range(3)]
    assert d[0] is not None and d[1] is not None and d[2] is not None
    assert d[0] < d[1] < d[2]
    assert stats[101].students == 300
