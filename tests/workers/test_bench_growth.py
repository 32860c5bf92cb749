"""`metis bench growth` on tiny sizes: both curves come out, one point per size, each timed
through the worker's own `plan_batch` (its stage split is there), and bad sizes are refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
METIS = str(Path(sys.executable).parent / "metis")


def test_bench_growth_prints_both_curves(tmp_path: Path) -> None:
    out = tmp_path / "growth.json"
    run = subprocess.run(
        [METIS, "bench", "growth", "--histories", "3,300", "--banks", "10,60", "--history", "8",
         "--bank", "20", "--repeats", "2", "--json", str(out)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert json.loads(run.stdout) == figures
    history, bank = figures["history_curve"], figures["bank_curve"]
    assert [(p["history"], p["bank"]) for p in history] == [(3, 20), (300, 20)]
    # From the resume point the worker reads at most 2 x (64 + 8) - 1 answers; in full, all.
    full = figures["history_curve_full"]
    assert [p["answers_read"] for p in history] == [3, 143]
    assert [p["answers_read"] for p in full] == [3, 300]
    assert figures["history_growth_ratio_full"] == round(full[-1]["ms"] / full[0]["ms"], 3)
    assert [(p["history"], p["bank"]) for p in bank] == [(8, 10), (8, 60)]
    for point in history + bank:
        assert 0 < point["min_ms"] <= point["ms"] <= point["max_ms"]
        # The worker's own stages: the model's update and the set's choice.
        assert {"predict_update", "plan"} <= set(point["stages_ms"])
    assert figures["history_growth_ratio"] == round(history[-1]["ms"] / history[0]["ms"], 3)
    assert figures["bank_growth_ratio"] == round(bank[-1]["ms"] / bank[0]["ms"], 3)
    assert figures["config"]["repeats"] == 2 and figures["config"]["torch_threads"] == 1


def test_bench_growth_refuses_bad_sizes() -> None:
    run = subprocess.run([METIS, "bench", "growth", "--banks", "100,lots"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert run.returncode == 2
    assert "--banks" in run.stderr and "comma-separated list of integers" in run.stderr
