"""`metis demo` as a subprocess on free ports: healthy, course page, launches, clean stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from lti_tool.devkit.embedded import free_port, wait_for_port
from lti_tool.devkit.lti_client import first_form, follow_cookie_check, submit

pytestmark = pytest.mark.slow


def _wait_healthy(url: str, cert: Path, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "metis demo exited early"
        if cert.exists():
            try:
                if requests.get(url, verify=str(cert), timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
        time.sleep(0.3)
    raise AssertionError(f"{url} not healthy after {timeout:.0f}s")


def _wait_worker_ready(url: str, cert: Path, log: Path, timeout: float) -> None:
    """Until /healthz counts a worker with its model loaded and the demo has said so (it polls
    the same readiness entries, so it may say it a moment after /healthz does)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            body = requests.get(url, verify=str(cert), timeout=5).json()
            if (body.get("workers", {}).get("ready", 0) >= 1
                    and "Worker ready: model" in log.read_text(errors="replace")):
                return
        except (requests.RequestException, ValueError):
            pass
        time.sleep(0.3)
    raise AssertionError(f"no worker ready after {timeout:.0f}s:\n"
                         + log.read_text(errors="replace")[-3000:])


def _launch(browser: requests.Session, lms: str, who: str) -> requests.Response:
    page = browser.get(f"{lms}/as/{who}")  # follows to the platform's login form
    assert page.status_code == 200, page.text
    login = follow_cookie_check(browser, submit(browser, first_form(page.text)))
    assert login.status_code == 302, login.text
    auth = browser.get(login.headers["Location"], allow_redirects=False)
    assert auth.status_code == 200, auth.text
    return submit(browser, first_form(auth.text))


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_demo_serves_course_and_launches_then_stops_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port, platform_port = free_port(), free_port()
    data_dir = tmp_path / "var"
    # requests lets this variable override a session's `verify`; point it at the demo's cert.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(data_dir / "tls" / "cert.pem"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("METIS_")}
    metis_cli = Path(sys.executable).parent / "metis"
    # A file, not a pipe: the test reads it while the demo runs, and a full pipe cannot block it.
    log = tmp_path / "demo.log"
    out = log.open("wb")
    proc = subprocess.Popen(
        [
            str(metis_cli),
            "demo",
            "--port",
            str(port),
            "--platform-port",
            str(platform_port),
            "--data-dir",
            str(data_dir),
        ],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    try:
        cert = data_dir / "tls" / "cert.pem"
        _wait_healthy(f"https://localhost:{port}/healthz", cert, proc, timeout=180)
        wait_for_port(platform_port, timeout=60)
        lms = f"https://localhost:{platform_port}"
        browser = requests.Session()
        browser.verify = str(cert)

        course = browser.get(f"{lms}/")
        assert course.status_code == 200
        assert "Fractions, decimals and percentages" in course.text

        student = _launch(browser, lms, "student")
        assert student.status_code == 303, student.text
        assert "/student/" in student.headers["Location"]
        page = browser.get(f"https://localhost:{port}{student.headers['Location']}")
        assert page.status_code == 200, page.text[:500]

        teacher_browser = requests.Session()
        teacher_browser.verify = str(cert)
        teacher = _launch(teacher_browser, lms, "teacher")
        assert teacher.status_code == 303, teacher.text
        assert "/teacher/" in teacher.headers["Location"]
        _wait_worker_ready(f"https://localhost:{port}/healthz", cert, log, timeout=300)

    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(
                "metis demo did not stop within 30 s:\n" + log.read_text(errors="replace")[-3000:]
            ) from None
        finally:
            out.close()
    output = log.read_text(errors="replace")
    assert proc.returncode == 0, output[-3000:]
    assert "Open as a student" in output and "demo stopped" in output
    assert "Worker ready: model" in output, output[-3000:]
    assert not _listening(port) and not _listening(platform_port)
