"""Checkpoint round trip: identical predictions after save/load, weights-only file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from meta_engine import api
from meta_engine.checkpoint import WEIGHTS, resolve_checkpoint_dir
from meta_engine.types import Interaction, Item


def test_round_trip_identical_predictions(tmp_path: Path, sim_model: api.Model) -> None:
    model = sim_model
    d = Path(api.save_model(model, str(tmp_path), {"note": "test"}))
    assert resolve_checkpoint_dir(tmp_path) == d  # the parent resolves through LATEST
    state = torch.load(d / WEIGHTS, weights_only=True)  # plain tensors only
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    loaded = api.load_model(str(tmp_path), device="cpu")
    hist = api._synthetic(model, 40, 100)[0]
    bank = [Item(i, (1 + i % model.n_skills,)) for i in range(1, 50)]
    p1 = api.predict(model, api.adapt(model, hist), bank)
    p2 = api.predict(loaded, api.adapt(loaded, hist), bank)
    np.testing.assert_array_equal(p1, p2)
    assert loaded.card["note"] == "test" and loaded.version == d.name
    assert float(loaded.net.calib_a) == float(model.net.calib_a)


def test_shipped_core_round_trip(tmp_path: Path) -> None:
    """The shipped core saved and loaded elsewhere serves a new course identically."""
    model = api.default_model()
    loaded = api.load_model(api.save_model(model, str(tmp_path)), "cpu")
    hist = [Interaction(7, (3,), 1, 0.0), Interaction(8, (4,), 0, 1.0)]
    bank = [Item(i, (3 + i % 2,)) for i in range(1, 20)]
    t1, t2 = model.new_course_tables(), loaded.new_course_tables()
    np.testing.assert_array_equal(api.predict(model, api.adapt(model, hist, t1), bank,
                                              tables=t1),
                                  api.predict(loaded, api.adapt(loaded, hist, t2), bank,
                                              tables=t2))
