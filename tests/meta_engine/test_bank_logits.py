"""A whole bank's predictions (`serving.bank_logits`: the network once per distinct skill
row and once per answered question) equal the row-by-row pass over every question
(`predict_logits`, attention over the recent answers included), with stated difficulties,
online item tables, overrides, untagged and multi-skill questions, questions among the recent
answers, a shortlisted part of the bank, and the extra skill rows `mastery` reads."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from meta_engine import api
from meta_engine.model.serving import bank_logits, mastery, predict_logits, prepare_bank
from meta_engine.serve import Event, serve_batch
from meta_engine.types import Interaction, Item


@pytest.fixture(scope="module")
def model() -> api.Model:
    torch.set_num_threads(1)
    return api.default_model()


def _bank(n: int = 600) -> list[Item]:
    rng = np.random.default_rng(4)
    out = []
    for i in range(1, n + 1):
        k = int(rng.integers(0, 3))  # 0: an untagged question
        skills = tuple(sorted({int(s) for s in rng.integers(21, 29, size=k)}))
        prior = float(rng.normal()) if i % 3 == 0 else None
        out.append(Item(1000 + i, skills, "", prior))
    return out


@pytest.mark.parametrize("use_items", [True, False])
def test_the_grouped_pass_equals_the_row_by_row_pass(model: api.Model, use_items: bool) -> None:
    bank = _bank()
    pb = prepare_bank(model, bank)
    # The last answers are bank questions, so "same item" holds for some candidates.
    history = [Interaction(bank[t % 40].id, bank[t % 40].skills, t % 3 != 0, 20.0 * t)
               for t in range(90)]
    # Online item tables from a few students' answers, so item means differ from priors.
    results = serve_batch(model, model.new_course_tables(),
                          [Event(f"e{t}", "other", history[: t + 1], bank=bank, plan=False)
                           for t in range(60)])
    tables = model.new_course_tables().with_updates(u for r in results for u in r.updates)
    state = api.adapt(model, history, tables, pb.priors())
    assert set(state.recent_items) & {it.id for it in bank}
    overrides = {bank[5].id: 1.5, bank[200].id: -0.7}
    skills = np.array([21, 24, 28, 99])  # 99: a skill no question of the bank has
    for ov in (None, overrides):
        full = predict_logits(model, state, pb.ids, pb.skills, pb.prior, tables, ov,
                              use_items)
        fast, extra = bank_logits(model, state, pb, tables, ov, use_items,
                                  extra=skills[:, None])
        np.testing.assert_allclose(fast, full, rtol=0, atol=1e-5)
        np.testing.assert_allclose(mastery(model, state, skills.tolist(), tables).mean,
                                   1 / (1 + np.exp(-extra)), rtol=0, atol=1e-6)
    assert len(pb.skill_groups[0]) < len(bank) / 10
    # A part of the bank keeps its questions' groups.
    rows = np.arange(3, len(bank), 7)
    part = pb.subset(rows)
    np.testing.assert_allclose(bank_logits(model, state, part, tables)[0],
                               predict_logits(model, state, pb.ids[rows], pb.skills[rows],
                                              pb.prior[rows], tables), rtol=0, atol=1e-5)
