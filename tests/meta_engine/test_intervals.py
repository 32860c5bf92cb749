"""Mastery intervals against simulated ground truth: the shipped core serving a simulated bank
as a new course (tables fitted online) covers the true per-skill mastery near-nominally with
its fitted scale, on students the scale was not fitted on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from meta_engine.api import default_model, load_model, save_model
from meta_engine.data.simulate import StudentSimulator
from meta_engine.model.intervals import coverage, fit_interval_scale, simulate_truth, warm_tables


@pytest.fixture(scope="module")
def course():  # type: ignore[no-untyped-def]
    model = default_model()
    sim = StudentSimulator(200, 10, seed=0)
    return model, warm_tables(model, sim, 60, seed=5), sim


def test_shipped_intervals_cover_near_nominal(course, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model, tables, sim = course
    fit = model.card["intervals"]
    assert 0.0 < fit["interval_scale"] == model.net.cfg.interval_scale
    cases = simulate_truth(sim, 60, (5, 20, 60), seed=4242)  # not the fit's students
    cov = coverage(model, cases, tables)
    assert 0.8 <= cov <= 0.995, cov
    saved = Path(save_model(model, str(tmp_path)))
    loaded = load_model(str(saved), "cpu")
    assert loaded.net.cfg.interval_scale == model.net.cfg.interval_scale
    cfg = json.loads((saved / "config.json").read_text())
    assert cfg["interval_scale"] == model.net.cfg.interval_scale


def test_fit_reaches_the_asked_level_and_scales_width(course) -> None:  # type: ignore[no-untyped-def]
    model, tables, sim = course
    cases = simulate_truth(sim, 40, (10, 40), seed=99)
    old = model.net.cfg.interval_scale
    try:
        model.net.cfg.interval_scale = fit_interval_scale(model, cases, 0.8, tables)
        at80 = coverage(model, cases, tables)
        model.net.cfg.interval_scale = fit_interval_scale(model, cases, 0.95, tables)
        at95 = coverage(model, cases, tables)
    finally:
        model.net.cfg.interval_scale = old
    n = sum(len(c.true_mastery) for c in cases)
    # Fitted on these very cases: coverage equals the level up to ties (one case's worth).
    assert abs(at80 - 0.8) <= 2 / n + 1e-9 and abs(at95 - 0.95) <= 2 / n + 1e-9
    assert np.isfinite(at80) and at80 < at95
