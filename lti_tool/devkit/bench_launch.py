"""`metis bench launch`: the cost of a full LTI login + launch against the production server.

Metis runs under gunicorn over HTTPS (as `metis serve` does) with a fresh SQLite database (or
the PostgreSQL URL given) and a private Redis; the demo platform runs in this process. Each
flow is what a browser does: platform login form -> Metis /lti/login -> platform /auth ->
Metis /lti/launch -> redirect to the landing page. Timings include the platform's own work
and the client, all on this machine.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import click
from werkzeug.serving import make_server

from lti_tool.core.db import Database
from lti_tool.core.db.migrate import upgrade
from lti_tool.devkit.certs import ensure_self_signed
from lti_tool.devkit.demo.seed import register_demo_platform
from lti_tool.devkit.demo_lms import PlatformStore, ToolEndpoints, create_platform_app
from lti_tool.devkit.embedded import RedisServer, free_port, wait_for_port
from lti_tool.devkit.lti_client import login_and_launch, new_browser
from lti_tool.process_argv import WEB_APP, gunicorn_argv


def one_flow(platform_url: str, link_id: str, user: str, cert: str) -> float:
    """One full login + launch in a fresh browser; returns milliseconds."""
    browser = new_browser(cert)
    start = time.perf_counter()
    r = login_and_launch(browser, platform_url, user=user, link=link_id)
    if r.status_code != 303:
        raise RuntimeError(f"launch refused: HTTP {r.status_code}: {r.text[:300]}")
    elapsed = (time.perf_counter() - start) * 1000
    browser.close()
    return elapsed


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _summary(timings: list[float], wall_s: float) -> dict[str, Any]:
    return {
        "launches": len(timings),
        "p50_ms": round(statistics.median(timings), 1),
        "p99_ms": round(_percentile(timings, 0.99), 1),
        "mean_ms": round(statistics.fmean(timings), 1),
        "launches_per_s": round(len(timings) / wall_s, 2),
    }


@contextmanager
def _servers(
    workdir: Path, workers: int, threads: int, database_url: str | None
) -> Iterator[tuple[str, str, str]]:
    """Start Redis, the platform and Metis under gunicorn; yield (platform_url, link, cert)."""
    with ExitStack() as stack:
        redis_url = os.environ.get("METIS_REDIS_URL")
        if not redis_url:
            redis_url = stack.enter_context(RedisServer()).url
        db_url = database_url or f"sqlite:///{workdir / 'bench.db'}"
        upgrade(db_url)
        cert, key = ensure_self_signed(workdir / "certs", ("localhost",))
        port = free_port()
        metis_url = f"https://127.0.0.1:{port}"

        platform_holder: dict[str, Any] = {}

        def platform_wsgi(environ: dict[str, Any], start_response: Any) -> Any:
            return platform_holder["app"](environ, start_response)

        server = make_server(
            "127.0.0.1", 0, platform_wsgi, threaded=True, ssl_context=(str(cert), str(key))
        )
        platform_url = f"https://127.0.0.1:{server.server_port}"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        store = PlatformStore(
            platform_url,
            ToolEndpoints(
                login_url=f"{metis_url}/lti/login",
                launch_url=f"{metis_url}/lti/launch",
                jwks_url=f"{metis_url}/.well-known/jwks.json",
            ),
        )
        platform_holder["app"] = create_platform_app(store)
        thread.start()
        stack.callback(server.shutdown)
        link = store.add_link("Bench activity", score_maximum=10)

        db = Database(db_url)
        with db.session() as s:
            register_demo_platform(
                s,
                issuer=store.issuer,
                client_id=store.client_id,
                deployment_id=store.deployment_id,
                name="bench",
            )
        db.dispose()

        env = {
            **os.environ,
            "METIS_MODE": "production",
            "METIS_SECRET_KEY": secrets.token_urlsafe(32),
            "METIS_DATABASE_URL": db_url,
            "METIS_REDIS_URL": redis_url,
            "METIS_BASE_URL": metis_url,
            "METIS_DATA_DIR": str(workdir),
            "REQUESTS_CA_BUNDLE": str(cert),
        }
        argv = gunicorn_argv(
            WEB_APP, f"127.0.0.1:{port}", workers=workers, threads=threads, cert=cert, key=key
        )
        log = (workdir / "gunicorn.log").open("wb")
        stack.callback(log.close)
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)

        def stop() -> None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()

        stack.callback(stop)
        wait_for_port(port, timeout=60)
        yield platform_url, link.id, str(cert)


@click.command("launch")
@click.option("-n", "--launches", default=200, show_default=True, help="Flows per phase.")
@click.option("-c", "--concurrency", default=8, show_default=True, help="Parallel browsers.")
@click.option("--workers", default=2, show_default=True, help="gunicorn worker processes.")
@click.option("--threads", default=4, show_default=True, help="Threads per worker.")
@click.option("--warmup", default=10, show_default=True)
@click.option("--database-url", default=None, help="Default: a fresh SQLite file.")
def launch(
    launches: int,
    concurrency: int,
    workers: int,
    threads: int,
    warmup: int,
    database_url: str | None,
) -> None:
    """Full login+launch flows: p50/p99 ms and launches/s, sequential and concurrent (JSON)."""
    if launches < 1 or concurrency < 1:
        raise click.BadParameter("launches and concurrency must be at least 1")
    users = ["101", "102", "103", "201"]
    # The in-process platform would otherwise log every request to the terminal.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with (
        tempfile.TemporaryDirectory(prefix="metis-bench-") as tmp,
        _servers(Path(tmp), workers, threads, database_url) as (platform_url, link_id, cert),
    ):
        for i in range(warmup):
            one_flow(platform_url, link_id, users[i % len(users)], cert)
        start = time.perf_counter()
        sequential = [
            one_flow(platform_url, link_id, users[i % len(users)], cert) for i in range(launches)
        ]
        seq_wall = time.perf_counter() - start
        start = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            concurrent = list(
                pool.map(
                    lambda i: one_flow(platform_url, link_id, users[i % len(users)], cert),
                    range(launches),
                )
            )
        conc_wall = time.perf_counter() - start
    result = {
        "benchmark": "lti_login_launch",
        "server": f"gunicorn gthread, {workers} workers x {threads} threads, HTTPS",
        "database": "postgresql" if database_url else "sqlite",
        "cpu_count": os.cpu_count(),
        "sequential": _summary(sequential, seq_wall),
        "concurrent": {"concurrency": concurrency, **_summary(concurrent, conc_wall)},
        "note": "times include the in-process demo platform and client on the same machine",
    }
    click.echo(json.dumps(result, indent=2))
