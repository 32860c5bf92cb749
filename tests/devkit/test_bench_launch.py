"""`metis bench launch`: real login + launch flows against gunicorn, directly over HTTPS and
behind nginx terminating TLS (the README's production setup), with Metis's own server time per
request read from gunicorn's access log."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from lti_tool.cli import cli
from lti_tool.devkit.bench_launch import server_ms


@pytest.mark.slow
@pytest.mark.parametrize("proxy", ["none", "nginx"])
def test_launch_bench_runs_real_flows(proxy: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("METIS_REDIS_URL", raising=False)  # its own private Redis
    out = CliRunner().invoke(cli, ["bench", "launch", "-n", "4", "-c", "2", "--warmup", "1",
                                   "--workers", "1", "--threads", "2", "--proxy", proxy])
    assert out.exit_code == 0, out.output
    report = json.loads(out.output[out.output.index("{"):])
    assert report["proxy"] == proxy
    assert ("nginx" in report["server"]) is (proxy == "nginx")
    for phase in ("sequential", "concurrent"):
        assert report[phase]["launches"] == 4
        own = report["metis_server_time"][phase]
        # Every flow's login and launch reached gunicorn and was timed there.
        assert own["login"]["n"] == 4 and own["launch"]["n"] == 4
        assert 0 < own["launch"]["p50_ms"] < report[phase]["p50_ms"]


def test_server_time_reads_only_login_and_launch_lines() -> None:
    lines = ["POST /lti/login 302 2500", "POST /lti/launch 303 8000", "GET /healthz 200 900",
             "POST /lti/launch 303 10000", "garbage", "POST /lti/login 302 3500"]
    got = server_ms(lines)
    assert got["login"] == {"n": 2, "p50_ms": 3.0, "p99_ms": 3.5}
    assert got["launch"]["n"] == 2 and got["launch"]["p50_ms"] == 9.0
    assert got["login_plus_launch_p50_ms"] == 12.0
