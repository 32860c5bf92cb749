"""Practice-set rules: band, spacing, diversity, exploration, and a reason per item."""

from __future__ import annotations

import numpy as np
import pytest

from meta_engine import api
from meta_engine.practice.select import PracticeSettings, select_practice_set
from meta_engine.types import Interaction, Item


@pytest.fixture(scope="module")
def model(sim_model: api.Model) -> api.Model:
    return sim_model


def _bank(model: api.Model) -> list[Item]:
    return [Item(i, (1 + i % model.n_skills,)) for i in range(1, model.n_items + 1)]


def _hist(model: api.Model, n: int = 30) -> list[Interaction]:
    return [Interaction(i, (1 + i % model.n_skills,), int(i % 3 != 0), float(t))
            for t, i in enumerate(range(1, n + 1))]


def test_band_and_reasons(model: api.Model) -> None:
    h = _hist(model)
    st = api.adapt(model, h)
    s = PracticeSettings(n_items=6, w_explore=0.0, w_weakness=0.0, w_review=0.0)
    plan = select_practice_set(model, st, _bank(model), s, now=1e6, history=h)
    assert len(plan.items) == 6
    lo, hi = s.band
    assert all(lo <= it.p_correct <= hi for it in plan.items)
    for it in plan.items:
        assert it.why.endswith(".") and f"{it.p_correct:.0%}" in it.why
        assert it.reason in {"band", "weakness", "review", "explore", "new"}
    d = plan.to_dict()
    assert d["items"][0]["why"] == plan.items[0].why


def test_spacing_holds_back_recent_and_brings_back_missed(model: api.Model) -> None:
    h = _hist(model)
    now = 1000.0
    # Item 3 was missed long ago; every other answered item was answered just now.
    h = [Interaction(x.item, x.skills, x.correct, now - 1 if x.item != 3 else 0.0) for x in h]
    st = api.adapt(model, h)
    s = PracticeSettings(n_items=5, hold_back=100.0, review_after=500.0, w_review=10.0,
                         max_per_skill=5)
    plan = select_practice_set(model, st, _bank(model), s, now=now, history=h)
    ids = [it.item_id for it in plan.items]
    assert 3 in ids
    review = next(it for it in plan.items if it.item_id == 3)
    assert review.reason == "review" and "missed" in review.why
    recent = {x.item for x in h if now - x.timestamp < s.hold_back}
    assert not recent & set(ids)


def test_diversity_caps_items_per_skill(model: api.Model) -> None:
    st = api.adapt(model, _hist(model))
    s = PracticeSettings(n_items=8, max_per_skill=1)
    plan = select_practice_set(model, st, _bank(model), s, now=1e6, history=[])
    skills = [k for it in plan.items for k in it.skills]
    assert len(skills) == len(set(skills)) == 8
    # A bank of a single skill still fills the set (the cap is relaxed, not violated silently).
    one = [Item(i, (1,)) for i in range(1, 20)]
    assert len(select_practice_set(model, st, one, s, now=1e6).items) == 8


def test_exploration_prefers_unpractised_skills(model: api.Model) -> None:
    # Many answers on skill 1 only: other skills are uncertain.
    h = [Interaction(10 * (1 + t % 10), (1,), t % 2, float(t)) for t in range(60)]
    st = api.adapt(model, h)
    ms = api.mastery(model, st)
    assert ms.sd_logit[0] < np.median(ms.sd_logit[1:])
    s = PracticeSettings(n_items=3, w_band=0.0, w_target=0.0, w_weakness=0.0, w_explore=5.0,
                         w_review=0.0, max_per_skill=3)
    plan = select_practice_set(model, st, _bank(model), s, now=1e6, history=h)
    # One question on skill 1, the weakest unmastered skill practised (every set has one);
    # the others on skills never tried, said as such (never "one of your weakest").
    assert sum(1 in it.skills for it in plan.items) == 1
    for it in plan.items:
        if 1 not in it.skills:
            assert it.reason == "new" and "not practised yet" in it.why


def test_prepared_bank_and_given_mastery_change_nothing(model: api.Model) -> None:
    """The worker's shortcuts (bank arrays built once, one mastery for select and feedback)
    give exactly the plan and feedback of the plain call."""
    h = _hist(model)
    now = 1000.0
    h = [Interaction(x.item, x.skills, x.correct, now - 1 if x.item % 2 else 0.0) for x in h]
    st = api.adapt(model, h)
    prev = api.adapt(model, h[:-1])
    s = PracticeSettings(n_items=8, hold_back=100.0, review_after=500.0)
    plain = select_practice_set(model, st, _bank(model), s, now=now, history=h)
    ms = api.mastery(model, st)
    fast = select_practice_set(model, st, api.prepare_bank(model, _bank(model)), s, now=now,
                               history=h, state_mastery=ms)
    assert fast.to_dict() == plain.to_dict()
    assert any(it.reason == "review" for it in plain.items)
    assert (api.feedback(model, st, prev, state_mastery=ms).to_dict()
            == api.feedback(model, st, prev).to_dict())


def test_untagged_items_are_not_taken_for_the_weakest(model: api.Model) -> None:
    """A question with no skill counts as an average one: it is not put first for
    "weakness", and its reason carries no made-up mastery. A skill the model never saw is a
    skill of its own (prior tables), never padding."""
    h = _hist(model) + [Interaction(7, (model.n_skills + 3,), 1, 31.0)]  # a skill it never saw
    st = api.adapt(model, h)
    assert st.theta == pytest.approx(api.adapt_batch(model, [h])[0].theta, abs=1e-5)
    tagged = _bank(model)[:20]
    untagged = [Item(100_000 + i, ()) for i in range(10)] + [
        Item(200_000 + i, (model.n_skills + 5,)) for i in range(10)]
    s = PracticeSettings(n_items=10, max_per_skill=10)
    plan = select_practice_set(model, st, untagged + tagged, s, now=1e6, history=h)
    for it in plan.items:
        if 100_000 <= it.item_id < 200_000:
            assert it.reason != "weakness"
        if it.item_id >= 200_000:
            assert it.detail["skills"] == [model.n_skills + 5]
        assert "nan" not in it.why
        assert all(np.isfinite(v) for v in it.detail.values() if isinstance(v, float))
    assert sum(it.item_id < 100_000 for it in plan.items) >= 3


def test_prepare_bank_arrays(model: api.Model) -> None:
    n = model.n_skills
    bank = [Item(5, (2, 1, 3)), Item(6, ()), Item(7, (n + 4,), difficulty_prior=1.5),
            Item(8, (1,), difficulty_prior=-0.5)]
    pb = api.prepare_bank(model, bank)
    assert pb.ids.tolist() == [5, 6, 7, 8] and len(pb) == 4
    assert pb.skills[:, :3].tolist() == [[2, 1, 3], [0, 0, 0], [n + 4, 0, 0], [1, 0, 0]]
    assert not pb.skills[:, 3:].any()
    assert np.isnan(pb.prior[:2]).all() and pb.prior[2:].tolist() == [1.5, -0.5]
    assert api.prepare_bank(model, pb) is pb
    assert len(api.prepare_bank(model, [])) == 0


# --- The loop's rules (issue: "selection rules, tested") -------------------------------------


def _skill_of(model: api.Model, item: int) -> int:
    return 1 + item % model.n_skills


def test_every_set_has_the_weakest_unmastered_skill(model: api.Model) -> None:
    # Skill 2 always wrong, the others always right: skill 2 must be in the set.
    h = [Interaction(i, (_skill_of(model, i),), int(_skill_of(model, i) != 2), float(t))
         for t, i in enumerate(range(1, 4 * model.n_skills + 1))]
    st = api.adapt(model, h)
    s = PracticeSettings(n_items=4, w_weakness=0.0, w_review=0.0)  # by the rule, not weight
    plan = select_practice_set(model, st, _bank(model), s, now=1e6, history=h)
    weak = [it for it in plan.items if 2 in it.skills]
    assert weak and weak[0].reason == "weakness" and weak[0].detail["skill"] == 2
    assert "one of your weakest" in weak[0].why


def test_never_more_than_three_in_a_row_on_one_skill(model: api.Model) -> None:
    # The history ends with three answers on skill 1; the bank is mostly skill 1.
    h = [Interaction(100 + t, (1,), 1, float(t)) for t in range(3)]
    bank = [Item(i, (1,)) for i in range(1, 30)] + [Item(40, (2,)), Item(41, (3,))]
    st = api.adapt(model, h)
    s = PracticeSettings(n_items=5, max_per_skill=5)
    plan = select_practice_set(model, st, bank, s, now=1e6, history=h)
    run, longest = 3, 3
    for it in plan.items:
        run = run + 1 if 1 in it.skills else 0
        longest = max(longest, run)
    assert plan.items[0].skills != (1,)  # a fourth in a row is not next
    assert sum(1 not in it.skills for it in plan.items) == 2
    # Only one skill left in the bank: the set is still filled.
    only = [Item(i, (1,)) for i in range(1, 30)]
    assert len(select_practice_set(model, st, only, s, now=1e6, history=h).items) == 5


def test_every_skill_is_practised_early(model: api.Model) -> None:
    h = [Interaction(i, (1,), 1, float(t)) for t, i in enumerate(range(1, 6))]
    st = api.adapt(model, h)
    seen = {1}
    hist = list(h)
    bank = [Item(i, (1 + i % 4,)) for i in range(1, 41)]
    for n in range(3):  # three sets of 2: skills 2, 3 and 4 all come up
        plan = select_practice_set(model, st, bank, PracticeSettings(n_items=2), now=1e6,
                                   history=hist)
        untried = {1, 2, 3, 4} - seen
        if untried:
            assert any(set(it.skills) & untried for it in plan.items), n
        for it in plan.items:
            seen |= set(it.skills)
            hist.append(Interaction(it.item_id, it.skills, 1, 1e6))
        st = api.adapt(model, hist)
    assert seen == {1, 2, 3, 4}


def test_a_missed_item_returns_after_two_others_and_never_at_once(model: api.Model) -> None:
    bank = _bank(model)
    missed = Interaction(5, (_skill_of(model, 5),), 0, 1.0)
    after_one = [missed, Interaction(6, (_skill_of(model, 6),), 1, 2.0)]
    s = PracticeSettings(n_items=5)
    st = api.adapt(model, after_one)
    ids = [it.item_id for it in
           select_practice_set(model, st, bank, s, now=3.0, history=after_one).items]
    assert 5 not in ids and 6 not in ids  # just answered: not offered again at once
    after_two = [*after_one, Interaction(7, (_skill_of(model, 7),), 1, 3.0)]
    st = api.adapt(model, after_two)
    plan = select_practice_set(model, st, bank, s, now=4.0, history=after_two)
    back = [it for it in plan.items if it.item_id == 5]
    assert back and back[0].reason == "review"  # in the same session, seconds later


def test_harder_after_right_answers_easier_after_wrong(model: api.Model) -> None:
    base = _hist(model, 20)
    right = [*base, *(Interaction(40 + t, (1,), 1, 30.0 + t) for t in range(3))]
    wrong = [*base, *(Interaction(40 + t, (1,), 0, 30.0 + t) for t in range(3))]
    s = PracticeSettings(n_items=4, w_weakness=0.0, w_explore=0.0)
    # One student state for both, so only the streak differs: the target inside the band.
    st = api.adapt(model, base)
    after_right = select_practice_set(model, st, _bank(model), s, now=1e6, history=right)
    after_wrong = select_practice_set(model, st, _bank(model), s, now=1e6, history=wrong)
    mean = lambda plan: float(np.mean([it.p_correct for it in plan.items]))  # noqa: E731
    assert mean(after_right) < mean(after_wrong)


def test_a_large_bank_is_shortlisted_and_keeps_the_rules(model: api.Model) -> None:
    """Beyond `shortlist_above` questions only a shortlist is scored in full; every skill is
    still on it, so the rules hold (the weakest skill and a skill never tried are there)."""
    h = [Interaction(i, (1 + i % 3,), int(1 + i % 3 != 2), float(t))
         for t, i in enumerate(range(1, 13))]
    bank = [Item(i, (1 + i % 6,)) for i in range(1, 3001)]
    st = api.adapt(model, h)
    small = PracticeSettings(n_items=5, shortlist_above=1000, shortlist=50,
                             shortlist_per_skill=4)
    plan = select_practice_set(model, st, bank, small, now=1e6, history=h)
    skills = {k for it in plan.items for k in it.skills}
    assert len(plan.items) == 5
    assert 2 in skills  # the weakest practised skill (always wrong)
    assert skills & {4, 5, 6}  # one never tried
    full = select_practice_set(model, st, bank, PracticeSettings(n_items=5), now=1e6,
                               history=h)
    assert 2 in {k for it in full.items for k in it.skills}


@pytest.mark.parametrize("size", [40, 600])  # 600: past the shortlist threshold
def test_set_and_mastery_from_one_pass_equal_two_passes(size: int) -> None:
    from meta_engine.model.serving import mastery, prepare_bank
    from meta_engine.practice.select import select_with_mastery

    model = api.default_model()
    rng = np.random.default_rng(size)
    skills = [101, 102, 103, 104, 105]
    bank = [Item(7000 + i, tuple(sorted({skills[i % 5], skills[int(rng.integers(5))]})),
                 difficulty_prior=float(rng.normal()) if i % 3 else None)
            for i in range(size)]
    h = [Interaction(bank[j].id, bank[j].skills, int(rng.random() < 0.6), float(t))
         for t, j in enumerate(rng.integers(0, size, 40).tolist())]
    tabs = model.new_course_tables()
    st = api.adapt(model, h, tabs)
    pb = prepare_bank(model, bank)
    wanted = sorted({*st.skill_ids, *skills, 999})  # 999: a skill no question has
    plan, ms = select_with_mastery(model, st, pb, wanted, PracticeSettings(n_items=6), 50.0, h,
                                   tabs)
    alone = mastery(model, st, wanted, tabs)
    assert ms.skills.tolist() == alone.skills.tolist()
    for name in ("mean", "low", "high", "sd_logit", "attempts"):
        assert np.allclose(getattr(ms, name), getattr(alone, name), rtol=0, atol=1e-6), name
    apart = select_practice_set(model, st, pb, PracticeSettings(n_items=6), 50.0, h,
                                state_mastery=alone, tables=tabs)
    assert [it.item_id for it in plan.items] == [it.item_id for it in apart.items]
    assert [it.why for it in plan.items] == [it.why for it in apart.items]
    assert np.allclose([it.p_correct for it in plan.items],
                       [it.p_correct for it in apart.items], rtol=0, atol=1e-6)
