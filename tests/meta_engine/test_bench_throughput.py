"""`metis bench throughput` on the CPU: the JSON it prints is the record for GPU runs, so its
shape and sanity are tested here where CI can run them. (`metis bench worker-batch` is the
workers' command and is tested with them.)"""

from __future__ import annotations

import json

from click.testing import CliRunner

from meta_engine.bench.throughput import throughput


def test_throughput_reports_each_batch_size() -> None:
    result = CliRunner().invoke(throughput, ["--device", "cpu", "--batches", "4,16",
                                             "--repeats", "1", "--threads", "1"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["device"] == "cpu"
    assert [r["batch"] for r in report["runs"]] == [4, 16]
    for run in report["runs"]:
        assert run["students_per_s"] > 0
        assert run["featurise_ms"] > 0 and run["device_part_ms"] > 0 and run["call_ms"] > 0


def test_throughput_refuses_bad_batches() -> None:
    result = CliRunner().invoke(throughput, ["--device", "cpu", "--batches", "4,x"])
    assert result.exit_code == 2
    assert "comma-separated list of integers" in result.output
