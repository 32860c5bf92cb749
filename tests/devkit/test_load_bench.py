"""`metis bench load` end to end: the demo stack, Locust headless with two students for ten
seconds, real launches and answers over HTTPS, and the JSON and HTML reports it writes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from lti_tool.cli import cli
from lti_tool.devkit.load.report import percentile, summary

pytestmark = pytest.mark.slow


def test_two_students_launch_and_answer_without_failures(tmp_path: Path) -> None:
    report_path, html_path = tmp_path / "load.json", tmp_path / "load.html"
    metis = Path(sys.executable).parent / "metis"
    # A real process, as a person runs it: Locust patches with gevent, never in pytest itself.
    done = subprocess.run(
        [str(metis), "bench", "load", "--users", "2", "--rate", "2", "--duration", "10",
         "--json", str(report_path), "--html", str(html_path),
         "--data-dir", str(tmp_path / "var")],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    report = json.loads(report_path.read_text())
    assert report["failures"] == 0, report["errors"]
    assert report["launches"] == 2  # one launch per student, each its own demo learner
    assert report["answers"] >= 2
    assert report["by_name"]["answer"]["failures"] == 0
    # Locust's own progress table went to the terminal, and its HTML report to the file.
    assert "Aggregated" in done.stdout + done.stderr
    assert "<html" in html_path.read_text().lower()


def test_bad_host_is_a_usage_error() -> None:
    out = CliRunner().invoke(cli, ["bench", "load", "--host", "localhost:5001"])
    assert out.exit_code == 2 and "must be a URL" in out.output


def test_summary_counts_failures_and_percentiles_from_locust_stats() -> None:
    stats = [
        {"name": "launch", "num_requests": 4, "num_failures": 1, "total_response_time": 400.0,
         "max_response_time": 130.0, "response_times": {"90": 2, "100": 1, "130": 1},
         "start_time": 100.0, "last_request_timestamp": 110.0},
        {"name": "answer", "num_requests": 10, "num_failures": 0, "total_response_time": 200.0,
         "max_response_time": 40.0, "response_times": {"20": 9, "40": 1},
         "start_time": 101.0, "last_request_timestamp": 108.0},
    ]
    errors = [{"name": "launch", "method": "LTI", "error": "launch refused (400)",
               "occurrences": 1}]
    report = summary(stats, errors, {"users": 2})
    assert (report["launches"], report["answers"], report["failures"]) == (4, 10, 1)
    assert report["measured_s"] == 10.0
    assert report["by_name"]["answer"]["per_s"] == 1.0  # over the whole run, not its own span
    assert report["by_name"]["launch"]["p50_ms"] == 90.0
    assert report["errors"][0]["error"] == "launch refused (400)"
    assert percentile({"20": 9, "40": 1}, 0.99) == 40.0
