"""The command lines that start Metis's processes: gunicorn for the web app, a Celery worker.

`metis serve` / `metis worker` exec them; the demo and the benchmarks spawn the same ones, so
what is measured is what runs in production.
"""

from __future__ import annotations

import sys
from pathlib import Path

from lti_tool.core.task_names import QUEUES

WEB_APP = "lti_tool.web.app:create_app()"
# gunicorn's logger without credentials in its lines (page and registration tokens, headers).
WEB_LOGGER = "lti_tool.web.access_log.RedactingLogger"
WORKER_APP = "workers.main"  # a string: the web side never imports the workers
ALL_QUEUES = ",".join(QUEUES)


def gunicorn_argv(
    app_spec: str,
    bind: str,
    *,
    workers: int,
    threads: int,
    cert: Path | None,
    key: Path | None,
    access_format: str | None = None,
) -> list[str]:
    # gthread: a Server-Sent Events stream holds a thread, not the whole worker.
    argv = [
        sys.executable, "-m", "gunicorn",
        "--worker-class", "gthread",
        "--workers", str(workers),
        "--threads", str(threads),
        "--bind", bind,
        "--graceful-timeout", "10",
        "--access-logfile", "-",
        "--logger-class", WEB_LOGGER,
    ]
    if cert is not None and key is not None:
        argv += ["--certfile", str(cert), "--keyfile", str(key)]
    if access_format is not None:
        argv += ["--access-logformat", access_format]
    return [*argv, app_spec]


def worker_argv(queues: str, concurrency: int = 1, *, beat: bool = False,
                name: str | None = None, quiet: bool = False,
                schedule: Path | None = None) -> list[str]:
    """A Celery worker on `queues`. `beat`: also run the periodic schedule (in exactly one
    worker), keeping its state file at `schedule` (Celery's default is the current directory);
    `quiet`: no gossip, mingle or heartbeats and warnings only (benchmarks)."""
    argv = [sys.executable, "-m", "celery", "-A", WORKER_APP, "worker", "-Q", queues,
            "-c", str(concurrency), "--loglevel", "WARNING" if quiet else "INFO"]
    if name:
        argv += ["-n", f"{name}@%h"]
    if quiet:
        argv += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    if not beat:
        return argv
    return [*argv, "-B", *(["--schedule", str(schedule)] if schedule else [])]
