"""`metis bench drain` end to end on a tiny queue: private PostgreSQL and Redis, real stored
answers, a real pinned adapt worker, every event processed and the figures in the JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def test_bench_drain_one_worker_processes_every_event(tmp_path: Path) -> None:
    out = tmp_path / "drain.json"
    run = subprocess.run(
        [str(Path(sys.executable).parent / "metis"), "bench", "drain", "--workers", "1",
         "--events", "20", "--students", "4", "--data-dir", str(tmp_path / "bench"),
         "--json", str(out)],
        capture_output=True, text=True, timeout=400,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert run.returncode == 0, run.stderr[-3000:]
    figures = json.loads(out.read_text())
    [only] = figures["runs"]
    assert only["workers"] == 1 and only["cores"] and len(only["cores"]) == 1
    # The queue was full before the worker took anything, and all of it was drained.
    assert only["events"] == only["queued_before_start"] == 20
    assert only["processed"] == 20 and only["unprocessed"] == 0
    assert 1 <= only["practice_sets"] <= 20
    assert only["events_per_s"] > 0 and only["seconds"] > 0
    assert figures["events_per_s"] == {"1": only["events_per_s"]}
    assert figures["scale_out_ratio"] is None  # needs a run with 2 workers as well
    assert figures["config"]["store"] == "postgresql"


def test_bench_drain_refuses_a_bad_worker_list(tmp_path: Path) -> None:
    run = subprocess.run(
        [str(Path(sys.executable).parent / "metis"), "bench", "drain", "--workers", "1,x",
         "--data-dir", str(tmp_path / "bench")],
        capture_output=True, text=True, timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert run.returncode == 2
    assert "not a comma-separated list of counts" in run.stderr
