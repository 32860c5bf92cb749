"""`metis serve` and `metis worker`: settings validated, HTTPS required, gunicorn really serves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from lti_tool.cli import cli
from lti_tool.devkit.certs import ensure_self_signed
from lti_tool.devkit.embedded import free_port
from lti_tool.settings import Settings

METIS = str(Path(sys.executable).parent / "metis")


def _production_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("METIS_")}
    env.update(
        METIS_MODE="production",
        METIS_SECRET_KEY="a-production-secret",
        METIS_DATABASE_URL=settings.database_url,
        METIS_REDIS_URL=settings.redis_url,
        METIS_BASE_URL="https://localhost:8443",
    )
    return env


def test_serve_stops_on_missing_production_setting() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("METIS_")}
    done = subprocess.run([METIS, "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "METIS_SECRET_KEY" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_serve_refuses_without_certificate(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in _production_env(settings).items():
        if key.startswith("METIS_"):
            monkeypatch.setenv(key, value)
    monkeypatch.delenv("METIS_TLS_CERT", raising=False)
    monkeypatch.delenv("METIS_TLS_KEY", raising=False)
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 1
    assert "refusing to start without an HTTPS certificate" in result.output
    half = CliRunner().invoke(cli, ["serve", "--cert", __file__])
    assert half.exit_code == 2 and "--cert and --key go together" in half.output


def test_worker_rejects_unknown_queue() -> None:
    result = CliRunner().invoke(cli, ["worker", "-Q", "adapt,bogus"])
    assert result.exit_code == 2
    assert "unknown queue(s) bogus" in result.output


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_serve_runs_gunicorn_over_https(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = ensure_self_signed(tmp_path / "tls", ("localhost",))
    port = free_port()
    proc = subprocess.Popen(
        [
            METIS,
            "serve",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--cert",
            str(cert),
            "--key",
            str(key),
        ],
        env=_production_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    # requests lets this variable override `verify`; trust the test certificate through it.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                resp = requests.get(f"https://localhost:{port}/healthz", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "metis serve did not come up"
                time.sleep(0.3)
        assert resp.status_code == 200
        assert resp.json()["checks"] == {"database": "ok", "redis": "ok"}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    assert proc.returncode == 0
