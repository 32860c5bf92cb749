"""`metis serve` and `metis worker`: settings validated, HTTPS required, gunicorn really serves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

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


def _wait_up(proc: subprocess.Popen[bytes], url: str, timeout: float = 120.0) -> None:
    """Until `metis serve` answers /healthz at `url` (it failing to start fails the test)."""
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        try:
            requests.get(f"{url}/healthz", timeout=2)
            return
        except requests.ConnectionError:
            assert time.monotonic() < deadline, f"metis serve did not come up at {url}"
            time.sleep(0.3)


@contextmanager
def _serving(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             log: IO[bytes] | None = None, **env: str) -> Iterator[str]:
    """`metis serve` on a free port (its access log to `log`), up and answering; its URL."""
    cert, key = ensure_self_signed(tmp_path / "tls", ("localhost",))
    port = free_port()
    proc = subprocess.Popen(
        [METIS, "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--cert", str(cert), "--key", str(key)],
        env={**_production_env(settings), **env},
        stdout=log if log is not None else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    # requests lets this variable override `verify`; trust the test certificate through it.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    url = f"https://localhost:{port}"
    try:
        _wait_up(proc, url)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    assert proc.returncode == 0


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_serve_runs_gunicorn_over_https(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _serving(settings, tmp_path, monkeypatch) as url:
        resp = requests.get(f"{url}/healthz", timeout=10)
        assert resp.status_code == 200
        assert resp.json()["checks"] == {"database": "ok", "redis": "ok"}


SECRETS = {"page": "PAGE-SECRET-1", "referer": "PAGE-SECRET-2", "link": "LINK-SECRET-3",
           "lms": "LMS-SECRET-4", "header": "HEADER-SECRET-5", "cookie": "COOKIE-SECRET-6",
           "launch": "LAUNCH-SECRET-7"}


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_access_log_keeps_no_bearer_token(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real gunicorn access log, in a format that also names the credential headers."""
    log_path = tmp_path / "access.log"
    fmt = ('%(h)s "%(r)s" %(s)s "%(f)s" auth=%({authorization}i)s cookie=%({cookie}i)s '
           'launch=%({x-metis-launch}i)s')
    with log_path.open("wb") as log, _serving(
            settings, tmp_path, monkeypatch, log,
            GUNICORN_CMD_ARGS=f"--access-logformat '{fmt}'") as url:
        headers = {"Authorization": f"Bearer {SECRETS['header']}",
                   "Cookie": f"session={SECRETS['cookie']}",
                   "X-Metis-Launch": SECRETS["launch"],
                   "Referer": f"{url}/student/l-1?lt={SECRETS['referer']}&after=e1"}
        requests.get(f"{url}/student/l-1", params={"lt": SECRETS["page"]}, headers=headers,
                     timeout=10)
        refused = requests.get(f"{url}/lti/register/{SECRETS['link']}", timeout=10, params={
            "openid_configuration": "https://moodle.example.edu/mod/lti/openid-configuration.php",
            "registration_token": SECRETS["lms"]})
        assert refused.status_code == 404  # an unknown link: refused before any fetch
        deadline = time.monotonic() + 30
        while "/lti/register/" not in log_path.read_text():  # written once answered
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
    text = log_path.read_text()
    assert [name for name, secret in SECRETS.items() if secret in text] == [], text
    assert "GET /student/l-1?lt=[redacted] HTTP/1.1" in text
    assert "/student/l-1?lt=[redacted]&after=e1" in text  # the Referer
    assert ("GET /lti/register/[redacted]?openid_configuration=https%3A%2F%2Fmoodle.example.edu"
            in text and "registration_token=[redacted]" in text)
    assert "auth=[redacted] cookie=[redacted] launch=[redacted]" in text


def test_worker_with_beat_keeps_its_schedule_file_in_the_data_dir(tmp_path: Path) -> None:
    """Celery's default schedule file is the current directory (a repo checkout, say)."""
    from lti_tool.process_argv import ALL_QUEUES, worker_argv

    argv = worker_argv(ALL_QUEUES, 1, beat=True, schedule=tmp_path / "celerybeat-schedule")
    assert argv[argv.index("-B") + 1:][:2] == ["--schedule", str(tmp_path / "celerybeat-schedule")]
    assert "-B" not in worker_argv(ALL_QUEUES, 1) and "--schedule" not in worker_argv(ALL_QUEUES, 1)


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_behind_a_proxy_serve_speaks_http_and_trusts_its_forwarded_https(
    settings: Settings, tmp_path: Path
) -> None:
    """What nginx in front (README) relies on: plain HTTP from the proxy on 127.0.0.1, and an
    LTI login counted as HTTPS only when the proxy says the browser used HTTPS."""
    port = free_port()
    proc = subprocess.Popen(
        [METIS, "serve", "--behind-proxy", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        env=_production_env(settings), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_up(proc, url)
        plain = requests.post(f"{url}/lti/login", data={"iss": "https://lms.example"},
                              timeout=10)
        assert plain.status_code == 403 and "plain HTTP refused" in plain.text
        forwarded = requests.post(f"{url}/lti/login", data={"iss": "https://lms.example"},
                                  headers={"X-Forwarded-Proto": "https"}, timeout=10)
        assert forwarded.status_code < 500 and "plain HTTP refused" not in forwarded.text
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)


def test_behind_proxy_takes_no_certificate() -> None:
    result = CliRunner().invoke(cli, ["serve", "--behind-proxy", "--cert", __file__,
                                      "--key", __file__])
    assert result.exit_code == 2 and "no --cert/--key" in result.output
