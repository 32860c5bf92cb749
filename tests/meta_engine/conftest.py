"""Fixtures of the meta_engine tests: small simulated data only (never the real datasets)."""

from __future__ import annotations

import pytest
import torch

from meta_engine import api


@pytest.fixture(scope="session")
def sim_model() -> api.Model:
    """An in-domain model of one simulated course (StudentSimulator(200 items, 10 skills,
    seed=0)): the core and that course's tables trained jointly, its card naming the course,
    so calls without `tables` read its own trained tables (ids 1..200, skills 1..10)."""
    from meta_engine.data import simulate_students, split_by_student
    from meta_engine.train import meta_train

    torch.set_num_threads(1)
    ds = simulate_students(400, 200, 10, seed=0)
    (train, valid), = split_by_student(ds, 5, seed=0)[:1]
    net, rep = meta_train(train, valid, progress=False, max_epochs=4, patience=2, seed=0)
    return api.Model(net.eval(), torch.device("cpu"),
                     {"course": "sim0", "valid": rep.to_dict()}, "sim0-in-domain")
