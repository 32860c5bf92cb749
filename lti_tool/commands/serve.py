"""`metis serve` (gunicorn over HTTPS) and `metis worker` (a Celery worker).

Both validate settings first, then replace this process with the server, so signals from a
process manager reach gunicorn/Celery directly.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import click

from lti_tool.process_argv import ALL_QUEUES, WEB_APP, gunicorn_argv, worker_argv
from lti_tool.settings import load_settings


def check_queues(queues: str) -> str:
    names = [q.strip() for q in queues.split(",") if q.strip()]
    unknown = sorted(set(names) - set(ALL_QUEUES.split(",")))
    if not names or unknown:
        raise click.BadParameter(
            f"unknown queue(s) {', '.join(unknown) or '(none given)'}; choose from {ALL_QUEUES}",
            param_hint="--queues",
        )
    return ",".join(names)


def _queues_option(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    return check_queues(value)


_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command()
@click.option("--bind", default="0.0.0.0:8443", show_default=True, help="host:port to listen on.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--threads", default=16, show_default=True, type=click.IntRange(1, 256))
@click.option("--cert", type=_FILE, envvar="METIS_TLS_CERT", help="PEM certificate (chain).")
@click.option("--key", type=_FILE, envvar="METIS_TLS_KEY", help="PEM private key.")
@click.option("--behind-proxy", is_flag=True,
              help="A reverse proxy in front terminates TLS (README): serve plain HTTP to it.")
def serve(bind: str, workers: int, threads: int, cert: Path | None, key: Path | None,
          behind_proxy: bool) -> None:
    """Serve Metis with gunicorn over HTTPS (the production web server)."""
    if (cert is None) != (key is None):
        raise click.UsageError("--cert and --key go together")
    if behind_proxy and cert is not None:
        raise click.UsageError("--behind-proxy serves plain HTTP to the proxy: no --cert/--key")
    settings = load_settings()
    if behind_proxy and urlsplit(settings.base_url).scheme != "https":
        raise click.UsageError("--behind-proxy needs the public METIS_BASE_URL to be https")
    if cert is None and not behind_proxy and not settings.allow_insecure_http:
        raise click.ClickException(
            "refusing to start without an HTTPS certificate: pass --cert and --key "
            "(or METIS_TLS_CERT and METIS_TLS_KEY), or set METIS_ALLOW_INSECURE_HTTP=1 "
            "for local development only"
        )
    argv = gunicorn_argv(WEB_APP, bind, workers=workers, threads=threads, cert=cert, key=key)
    os.execv(argv[0], argv)


@click.command()
@click.option("--queues", "-Q", default=ALL_QUEUES, show_default=True, callback=_queues_option)
@click.option("--concurrency", "-c", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--beat", is_flag=True, help="Also run the periodic schedule (one worker only).")
def worker(queues: str, concurrency: int, beat: bool) -> None:
    """Start a Celery worker for the given queues."""
    settings = load_settings()
    if beat:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    argv = worker_argv(queues, concurrency, beat=beat,
                       schedule=settings.data_dir / "celerybeat-schedule")
    os.execv(argv[0], argv)
