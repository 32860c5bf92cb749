"""Start and supervise the demo's processes; Ctrl-C (or SIGTERM) stops all of them.

Children: Metis under gunicorn (HTTPS), the demo LMS under gunicorn (HTTPS, one process), one
Celery worker with the periodic schedule, and a private redis-server unless METIS_REDIS_URL
is set. Everything lives in the data directory (default var/).
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import certifi
import click
import redis as redis_py

from lti_tool.core import worker_status
from lti_tool.core.db import Database
from lti_tool.core.db.migrate import upgrade
from lti_tool.core.task_names import ADAPT_QUEUE, MAINTENANCE_QUEUE, PASSBACK_QUEUE
from lti_tool.devkit.certs import ensure_self_signed
from lti_tool.devkit.demo import platform_wsgi
from lti_tool.devkit.demo.seed import ACTIVITY_TITLE, seed_demo
from lti_tool.devkit.embedded import RedisServer, wait_for_port
from lti_tool.lti import keys
from lti_tool.process_argv import WEB_APP, gunicorn_argv, worker_argv
from lti_tool.settings import Settings, load_settings

STOP_TIMEOUT_S = 15.0
# An upper bound only: the wait ends as soon as the worker says its model is loaded (seconds
# on a warm machine); a cold one importing torch from a slow disk may take minutes.
WORKER_READY_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class DemoOptions:
    port: int
    platform_port: int
    data_dir: Path
    worker: bool = True
    database_url: str = ""  # "": the demo's SQLite file in data_dir


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]


def _secret(data_dir: Path) -> str:
    """One secret for every process and restart, so sessions survive both."""
    path = data_dir / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _ca_bundle(data_dir: Path, cert: Path) -> Path:
    """The public CAs plus the demo certificate, so the demo's processes trust each other
    without turning verification off for real platforms."""
    bundle = data_dir / "tls" / "ca-bundle.pem"
    bundle.write_text(Path(certifi.where()).read_text() + "\n" + cert.read_text())
    return bundle


def prepare(options: DemoOptions, redis_url: str) -> tuple[Settings, dict[str, str], int]:
    """Settings, migrated database, a tool key, the seeded course; the children's environment."""
    data_dir = options.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = load_settings(
        mode="demo",
        data_dir=data_dir,
        base_url=f"https://localhost:{options.port}",
        redis_url=redis_url,
        secret_key=_secret(data_dir),
        # The demo LMS runs on this machine.
        allow_loopback_platforms=True,
        **({"database_url": options.database_url} if options.database_url else {}),
    )
    upgrade(settings.effective_database_url)
    platform_url = f"https://localhost:{options.platform_port}"
    db = Database(settings.effective_database_url)
    try:
        with db.session() as s:
            keys.signing_key(s)
            course = seed_demo(
                s,
                issuer=platform_url,
                client_id=platform_wsgi.CLIENT_ID,
                deployment_id=platform_wsgi.DEPLOYMENT_ID,
            )
    finally:
        db.dispose()
    cert, _key = ensure_self_signed(data_dir / "tls", ("localhost",))
    bundle = str(_ca_bundle(data_dir, cert))
    env = {
        **os.environ,
        "METIS_MODE": "demo",
        "METIS_DATA_DIR": str(data_dir),
        "METIS_BASE_URL": settings.base_url,
        "METIS_DATABASE_URL": settings.effective_database_url,
        "METIS_REDIS_URL": redis_url,
        "METIS_SECRET_KEY": settings.secret_key,
        "METIS_ALLOW_LOOPBACK_PLATFORMS": "1",
        "METIS_DEMO_PLATFORM_URL": platform_url,
        "METIS_DEMO_ACTIVITY_ID": str(course.activity_id),
        "METIS_DEMO_ACTIVITY_TITLE": ACTIVITY_TITLE,
        "METIS_DEMO_POINTS": str(course.points),
        "REQUESTS_CA_BUNDLE": bundle,
        "SSL_CERT_FILE": bundle,
    }
    return settings, env, course.activity_id


def ensure_ports_free(*ports: int) -> None:
    """Refuse to start over another server: waiting for a port that someone else already
    listens on would report a demo as running that never started."""
    for port in ports:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                raise click.ClickException(
                    f"port {port} is already in use (another Metis demo?); stop that process "
                    "or choose other ports with --port"
                ) from None


def _spawn(name: str, argv: list[str], env: dict[str, str], cwd: Path) -> Child:
    return Child(name, subprocess.Popen(argv, env=env, cwd=cwd))


def start_children(options: DemoOptions, env: dict[str, str]) -> list[Child]:
    data_dir = options.data_dir.resolve()
    cert, key = data_dir / "tls" / "cert.pem", data_dir / "tls" / "key.pem"
    cwd = Path.cwd()
    children = [
        _spawn(
            "metis",
            gunicorn_argv(
                WEB_APP,
                f"127.0.0.1:{options.port}",
                workers=2,
                threads=16,
                cert=cert,
                key=key,
            ),
            env,
            cwd,
        ),
        _spawn(
            "demo LMS",
            # One process: the demo course lives in its memory.
            gunicorn_argv(
                "lti_tool.devkit.demo.platform_wsgi:create()",
                f"127.0.0.1:{options.platform_port}",
                workers=1,
                threads=16,
                cert=cert,
                key=key,
            ),
            env,
            cwd,
        ),
    ]
    if options.worker:
        if importlib.util.find_spec("workers.main") is None:
            click.echo("warning: workers.main not found; no Celery worker started", err=True)
        else:
            # One worker per role, as in production: a slow LMS (passback) or a retraining
            # (maintenance) never holds up the next set (adapt).
            children.append(_spawn("worker", worker_argv(ADAPT_QUEUE, 1, name="adapt"),
                                   env, cwd))
            lms = worker_argv(f"{PASSBACK_QUEUE},{MAINTENANCE_QUEUE}", 1, beat=True,
                              name="lms", schedule=data_dir / "celerybeat-schedule")
            children.append(_spawn("worker-lms", lms, env, cwd))
    return children


def stop_children(children: list[Child]) -> None:
    for child in children:
        if child.process.poll() is None:
            child.process.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for child in children:
        try:
            child.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()


class _Stop(Exception):
    pass


@contextmanager
def _signals_stop() -> Iterator[None]:
    def handler(signum: int, _frame: FrameType | None) -> None:
        raise _Stop(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _banner(options: DemoOptions) -> None:
    metis = f"https://localhost:{options.port}"
    lms = f"https://localhost:{options.platform_port}"
    click.echo(
        "\nMetis demo is running (self-signed certificate: accept it once for each port).\n"
        f"  Demo course page:      {lms}/\n"
        f"  Its gradebook:         {lms}/gradebook\n"
        f"  Open as the teacher:   {lms}/as/teacher\n"
        f"  Open as a student:     {lms}/as/student\n"
        f"  Metis:                 {metis}/healthz\n"
        "What to click, step by step (bank import, deep linking, practice, gradebook,\n"
        "dashboards, admin approval): docs/walkthrough.md\n"
        "Press Ctrl-C to stop.\n"
    )


def wait_for_worker(redis_url: str, since: float, children: list[Child],
                    timeout_s: float = WORKER_READY_TIMEOUT_S) -> bool:
    """Say when the demo's worker has loaded its model, by waiting on the readiness entry the
    health page reads (worker_status), not on a guess. Entries older than `since` belong to an
    earlier run sharing this Redis. Stops early if a child exits (the caller reports it)."""
    if not any(c.name == "worker" for c in children):
        return False
    click.echo("Waiting for the worker to load its model (the first sets wait until it has)...")
    client = redis_py.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    started = time.monotonic()
    try:
        ready = worker_status.wait_until_ready(
            client, timeout_s, since=since,
            keep_waiting=lambda: all(c.process.poll() is None for c in children),
        )
    finally:
        client.close()
    if ready:
        w = ready[0]
        click.echo(f"Worker ready: model {w.model} loaded on {w.device} "
                   f"({time.monotonic() - started:.1f} s). Students get their sets now.")
        return True
    if all(c.process.poll() is None for c in children):
        click.echo(f"warning: no worker reported its model loaded within {timeout_s:.0f} s; "
                   "the first sets wait until one does (see the worker's log above and the "
                   "admin page Queues and workers)", err=True)
    return False


def run_demo(options: DemoOptions) -> int:
    """Run until Ctrl-C/SIGTERM (exit 0) or until a child dies (exit 1)."""
    redis: RedisServer | None = None
    children: list[Child] = []
    with _signals_stop():
        try:
            ensure_ports_free(options.port, options.platform_port)
            redis_url = os.environ.get("METIS_REDIS_URL", "")
            if not redis_url:
                redis = RedisServer().start()
                redis_url = redis.url
            _settings, env, _activity = prepare(options, redis_url)
            spawned_at = time.time()
            children = start_children(options, env)
            for port in (options.port, options.platform_port):
                wait_for_port(port, timeout=60)
            _banner(options)
            wait_for_worker(redis_url, spawned_at, children)
            while True:
                for child in children:
                    if child.process.poll() is not None:
                        click.echo(
                            f"error: {child.name} exited ({child.process.returncode})", err=True
                        )
                        return 1
                time.sleep(0.5)
        except _Stop as stop:
            click.echo(f"\n{stop}: stopping the demo...", err=True)
            return 0
        except TimeoutError as exc:
            click.echo(f"error: {exc}", err=True)
            return 1
        finally:
            # Ignore a second Ctrl-C while the children shut down.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            stop_children(children)
            if redis is not None:
                redis.stop()
            click.echo("demo stopped", err=True)
