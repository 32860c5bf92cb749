"""`metis bench pipeline` end to end on a tiny load: real launches, answers over HTTPS, sets on
the event stream, and a count check with nothing lost or applied twice."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_bench_pipeline_small_run(tmp_path: Path, store: str) -> None:
    data = tmp_path / "bench"
    out = tmp_path / "bench.json"
    run = subprocess.run(
        [str(Path(sys.executable).parent / "metis"), "bench", "pipeline", "--students", "3",
         "--events", "12", "--rate", "4", "--data-dir", str(data), "--store", store,
         "--json", str(out)],
        capture_output=True, text=True, timeout=400,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert run.returncode == 0, run.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert figures["config"]["store"] == store
    assert (data / "metis.db").exists() is (store == "sqlite")  # PostgreSQL: no SQLite file
    counts = figures["counts"]
    assert counts["accepted_202"] == 12 and counts["refused"] == 0
    assert counts["events_in_db"] == counts["events_processed"] == 12
    # A set is kept until all its questions are answered: a new one per finished set only.
    assert 1 <= counts["practice_sets"] < 12
    assert counts["lost"] == 0 and counts["duplicates"] == 0 and counts["not_delivered"] == 0
    latency = figures["latency_ms_post_to_sse"]
    assert latency["n"] == 12 and 0 < latency["p50"] <= latency["p99"]
    stages = figures["stages_ms"]
    for stage in ("web_grade_store_enqueue", "queue_wait", "adapt_per_student",
                  "select_per_student", "store_batch", "publish_batch"):
        assert stages[stage]["n"] == 12, stage
    assert figures["sustained_events_per_s"] > 0
    fresh = figures["fresh_install"]  # the first answer the new database and workers saw
    assert fresh["processes_ready_s"] > 0 and fresh["first_answer_to_set_ms"] > 0
