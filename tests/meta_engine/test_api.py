"""The worker surface: MetisMethod strictness, unseen items, batching, serialisable state."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from meta_engine import api
from meta_engine.data import simulate_students, split_by_student
from meta_engine.types import Dataset, Interaction, Item, Sequence


@pytest.fixture(scope="module")
def model(sim_model: api.Model) -> api.Model:
    return sim_model


def _history(model: api.Model, n: int, seed: int = 0) -> list[Interaction]:
    return api._synthetic(model, n, 100, seed=seed)[0]


def test_metis_method_is_strict() -> None:
    """Flipping answer t changes no prediction <= t, and does change a later one."""
    ds = simulate_students(120, 60, 6, seed=5, min_len=20, max_len=40)
    (train, valid), = split_by_student(ds, 4, seed=0)[:1]
    m = api.MetisMethod(device="cpu", max_minutes=0.5, max_epochs=2, window=8, chunk=8)
    m.fit(train, valid)
    s = ds.sequences[0]
    t = 13  # inside the second chunk: crosses a chunk boundary with context
    flipped = s.correct.copy()
    flipped[t] = 1 - flipped[t]
    s2 = Sequence(s.student, s.items, s.skills, flipped, s.timestamps)
    p1 = m.predict(Dataset("a", [s], ds.n_items, ds.n_skills))[0]
    p2 = m.predict(Dataset("b", [s2], ds.n_items, ds.n_skills))[0]
    assert p1.shape == (len(s),)
    np.testing.assert_array_equal(p1[: t + 1], p2[: t + 1])
    assert np.abs(p1[t + 1:] - p2[t + 1:]).max() > 1e-4


def test_unseen_item_and_new_bank(model: api.Model) -> None:
    st = api.adapt(model, _history(model, 30))
    unseen = Item(model.n_items + 50, (2,))
    same_skill_new = Item(0, (2,))
    p = api.predict(model, st, [unseen, same_skill_new])
    assert np.all((p > 0) & (p < 1))
    assert p[0] == pytest.approx(p[1])  # an unknown id is placed from its skills alone
    hard, easy = Item(7, (2,), difficulty_prior=2.0), Item(7, (2,), difficulty_prior=-2.0)
    ph, pe = api.predict(model, st, [hard, easy])
    assert ph < pe
    known = [Item(i, (1,)) for i in (3, 4)]
    p_res = api.predict(model, st, known)
    p_new_bank = api.predict(model, st, known, use_item_residuals=False)
    assert p_new_bank[0] == pytest.approx(p_new_bank[1])
    assert p_res.shape == (2,)


@pytest.mark.parametrize("many", [False, True])
def test_adapt_batch_equals_adapt(model: api.Model, many: bool) -> None:
    """Small batches featurise history by history, large ones with `featurize_batch`: both
    must adapt every student as `adapt` does alone."""
    from meta_engine.model.serving import BATCH_FEATURIZE_MIN

    lengths = (5, 30, 80) * (BATCH_FEATURIZE_MIN // 3 + 1 if many else 1)
    lengths += (400,) if many else ()  # much longer than the rest: featurised on its own
    hists = [_history(model, n, seed=i) for i, n in enumerate(lengths)]
    batch = api.adapt_batch(model, hists)
    assert (len(hists) >= BATCH_FEATURIZE_MIN) == many
    for h, b in zip(hists, batch, strict=True):
        one = api.adapt(model, h)
        assert b.theta == pytest.approx(one.theta, abs=1e-5)
        np.testing.assert_allclose(b.alpha, one.alpha, atol=1e-5)
        np.testing.assert_allclose(b.var_alpha, one.var_alpha, rtol=1e-4)
        assert (b.recent_items, b.recent_correct) == (one.recent_items, one.recent_correct)
        assert b.features["item_wins"] == one.features["item_wins"]
        np.testing.assert_allclose(b.features["ewins"], one.features["ewins"], rtol=1e-12)


def test_state_serialises_and_predicts_the_same(model: api.Model) -> None:
    h = _history(model, 40)
    st = api.adapt(model, h)
    st2 = api.StudentState.from_dict(json.loads(json.dumps(st.to_dict())))
    bank = [Item(i, (1 + i % model.n_skills,)) for i in range(1, 30)]
    np.testing.assert_allclose(api.predict(model, st, bank), api.predict(model, st2, bank))


def test_adaptation_moves_ability_with_answers(model: api.Model) -> None:
    h = _history(model, 30)
    good = [Interaction(x.item, x.skills, 1, x.timestamp) for x in h]
    bad = [Interaction(x.item, x.skills, 0, x.timestamp) for x in h]
    bank = [Item(i, (1 + i % model.n_skills,)) for i in range(1, 30)]
    assert api.predict(model, api.adapt(model, good), bank).mean() > \
        api.predict(model, api.adapt(model, bad), bank).mean() + 0.2


def test_latency_and_throughput_report(model: api.Model) -> None:
    lat = api.measure_latency(model, history_len=50, bank_size=200, n=10)
    assert 0 < lat["p50_ms"] <= lat["p99_ms"]
    thr = api.measure_throughput(model, device="cpu", n_students=16)
    assert thr["students_per_s"] > 0 and thr["batch"] == 16 and thr["device"] == "cpu"


def _tiny_model(algo: str) -> api.Model:
    from meta_engine.train import meta_train

    ds = simulate_students(60, 200, 10, seed=0, min_len=20, max_len=40)
    (train, valid), = split_by_student(ds, 4, seed=0)[:1]
    net, _ = meta_train(train, valid, max_minutes=0.2, progress=False, max_epochs=1,
                        algo=algo)
    return api.Model(net.eval(), torch.device("cpu"), {}, "tiny")


@pytest.mark.parametrize("variant", ["maml", "proto", "metasgd"])
def test_serving_path_equals_strict_sequence_predictions(model: api.Model, variant: str) -> None:
    """adapt(answers < t) + predict(item t) == the batched strict prediction for t, for the
    gradient methods and the prototype method."""
    from meta_engine.train import predict_dataset

    if variant != "maml":
        model = _tiny_model(variant)
    ds = simulate_students(2, model.n_items, model.n_skills, seed=0, min_len=150, max_len=150)
    s = ds.sequences[0]
    seq_p = predict_dataset(model.net, Dataset("one", [s], ds.n_items, ds.n_skills))[0]
    inter = s.interactions()
    for t in (0, 1, 7, 70, 149):  # empty history, short, crossing chunk/window boundaries
        st = api.adapt(model, inter[:t])
        p = api.predict(model, st, [Item(inter[t].item, inter[t].skills)])[0]
        assert p == pytest.approx(seq_p[t], abs=2e-5)
