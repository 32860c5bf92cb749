"""The demo stack for `metis bench load`: Redis, Metis (gunicorn, HTTPS), the demo LMS with one
extra learner per simulated student, and one Celery worker on every queue, as `metis demo`
runs them (lti_tool.devkit.demo.runner) but with their logs in files, not on the terminal
where Locust prints its progress."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import click

from lti_tool.devkit.demo.runner import Child, DemoOptions, prepare, stop_children, wait_for_worker
from lti_tool.devkit.embedded import RedisServer, free_port, wait_for_port
from lti_tool.process_argv import ALL_QUEUES, WEB_APP, gunicorn_argv, worker_argv

PLATFORM_APP = "lti_tool.devkit.demo.platform_wsgi:create()"


@dataclass(frozen=True)
class Stack:
    platform_url: str  # where each launch starts (Locust's host)
    ca_bundle: str  # trusts the demo's self-signed certificate
    logs: Path


def _spawn(name: str, argv: list[str], env: dict[str, str], logs: Path) -> Child:
    with (logs / f"{name}.log").open("ab") as log:
        return Child(name, subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT))


@contextmanager
def demo_stack(data_dir: Path, learners: int) -> Iterator[Stack]:
    """Start everything on free ports with a fresh database; stop it all on the way out."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    for stale in data_dir.glob("metis.db*"):
        stale.unlink()  # every run starts from the seeded course, not the last run's answers
    logs = data_dir / "logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir()
    redis_url = os.environ.get("METIS_REDIS_URL", "")
    redis = None if redis_url else RedisServer().start()
    children: list[Child] = []
    try:
        url = redis_url or (redis.url if redis else "")
        options = DemoOptions(free_port(), free_port(), data_dir)
        _settings, env, _activity = prepare(options, url)
        env = {**env, "METIS_DEMO_EXTRA_LEARNERS": str(learners)}
        cert, key = data_dir / "tls" / "cert.pem", data_dir / "tls" / "key.pem"
        spawned_at = time.time()
        children.append(_spawn("metis", gunicorn_argv(
            WEB_APP, f"127.0.0.1:{options.port}", workers=2, threads=16, cert=cert, key=key),
            env, logs))
        # One process: the demo course lives in its memory.
        children.append(_spawn("lms", gunicorn_argv(
            PLATFORM_APP, f"127.0.0.1:{options.platform_port}", workers=1, threads=16,
            cert=cert, key=key), env, logs))
        children.append(_spawn("worker", worker_argv(
            ALL_QUEUES, 1, beat=True, schedule=data_dir / "celerybeat-schedule"), env, logs))
        for port in (options.port, options.platform_port):
            wait_for_port(port, timeout=60)
        # Without a worker no set ever follows the first: measuring then would be meaningless.
        if not wait_for_worker(url, spawned_at, children):
            raise click.ClickException(f"the worker did not load its model; see {logs}")
        yield Stack(f"https://localhost:{options.platform_port}", env["REQUESTS_CA_BUNDLE"], logs)
    finally:
        stop_children(children)
        if redis is not None:
            redis.stop()
