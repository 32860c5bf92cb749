"""Mastery intervals against simulated ground truth: the fitted scale makes the 95% interval
cover the true per-skill mastery near-nominally on students it was not fitted on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from meta_engine.api import default_model, load_model, save_model
from meta_engine.data.simulate import StudentSimulator
from meta_engine.model.intervals import coverage, fit_interval_scale, simulate_truth


def test_default_model_intervals_cover_near_nominal(tmp_path: Path) -> None:
    model = default_model()
    fit = model.card["intervals"]
    assert 0.0 < fit["interval_scale"] == model.net.cfg.interval_scale
    # Held-out students (another seed than the fit), short and long histories.
    cases = simulate_truth(StudentSimulator(200, 10, seed=0), 120, (5, 20, 60), seed=4242)
    cov = coverage(model, cases)
    assert 0.85 <= cov <= 0.99, cov
    for length in (5, 60):
        part = coverage(model, [c for c in cases if len(c.history) == length])
        assert 0.8 <= part <= 1.0, (length, part)
    # The scale travels in the checkpoint config and is used after loading.
    saved = Path(save_model(model, str(tmp_path)))
    loaded = load_model(str(saved), "cpu")
    assert loaded.net.cfg.interval_scale == model.net.cfg.interval_scale
    cfg = json.loads((saved / "config.json").read_text())
    assert cfg["interval_scale"] == model.net.cfg.interval_scale


def test_fit_reaches_the_asked_level_and_scales_width() -> None:
    model = default_model()
    cases = simulate_truth(StudentSimulator(200, 10, seed=0), 60, (10, 40), seed=99)
    old = model.net.cfg.interval_scale
    try:
        model.net.cfg.interval_scale = fit_interval_scale(model, cases, level=0.8)
        at80 = coverage(model, cases)
        model.net.cfg.interval_scale = fit_interval_scale(model, cases, level=0.95)
        at95 = coverage(model, cases)
    finally:
        model.net.cfg.interval_scale = old
    n = sum(len(c.true_mastery) for c in cases)
    # Fitted on these very cases: coverage equals the level up to ties (one case's worth).
    assert abs(at80 - 0.8) <= 2 / n + 1e-9 and abs(at95 - 0.95) <= 2 / n + 1e-9
    assert np.isfinite(at80) and at80 < at95
