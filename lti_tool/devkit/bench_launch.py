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
from dataclasses import dataclass
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
from lti_tool.devkit.nginx_front import nginx_front
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


# One line per request in gunicorn's access log: method, path, status, microseconds spent.
ACCESS_FORMAT = "%(m)s %(U)s %(s)s %(D)s"


def server_ms(lines: list[str]) -> dict[str, Any]:
    """Metis's own time (gunicorn's, from request read to response written) for the login
    and launch requests of the access log `lines`: p50 and p99 ms of each, and the p50 sum."""
    spent: dict[str, list[float]] = {"login": [], "launch": []}
    for line in lines:
        parts = line.split()
        if len(parts) != 4 or not parts[3].isdigit():
            continue
        for name in spent:
            if parts[1] == f"/lti/{name}":
                spent[name].append(int(parts[3]) / 1000)
    out: dict[str, Any] = {}
    for name, values in spent.items():
        if values:
            out[name] = {"n": len(values), "p50_ms": round(statistics.median(values), 2),
                         "p99_ms": round(_percentile(values, 0.99), 2)}
    if len(out) == 2:
        out["login_plus_launch_p50_ms"] = round(out["login"]["p50_ms"]
                                                + out["launch"]["p50_ms"], 2)
    return out


@dataclass(frozen=True)
class Servers:
    platform_url: str
    link_id: str
    cert: str
    access_log: Path


@contextmanager
def _servers(
    workdir: Path, workers: int, threads: int, database_url: str | None, proxy: str = "none"
) -> Iterator[Servers]:
    """Start Redis, the platform and Metis under gunicorn (behind nginx with `proxy`
    "nginx": TLS there, plain HTTP to gunicorn)."""
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
        inner = free_port() if proxy == "nginx" else port
        tls = (None, None) if proxy == "nginx" else (cert, key)
        argv = gunicorn_argv(WEB_APP, f"127.0.0.1:{inner}", workers=workers, threads=threads,
                             cert=tls[0], key=tls[1], access_format=ACCESS_FORMAT)
        log_path = workdir / "gunicorn.log"
        log = log_path.open("wb")
        stack.callback(log.close)
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)

        def stop() -> None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()

        stack.callback(stop)
        wait_for_port(inner, timeout=60)
        if proxy == "nginx":
            stack.enter_context(nginx_front(workdir, port, inner, cert, key))
        yield Servers(platform_url, link.id, str(cert), log_path)


def _log_size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _log_lines(path: Path, start: int, end: int | None) -> list[str]:
    """The access log's lines between two byte offsets."""
    with path.open("rb") as f:
        f.seek(start)
        data = f.read() if end is None else f.read(end - start)
    return data.decode(errors="replace").splitlines()


def _logged(path: Path, start: int, flows: int, timeout: float = 60.0) -> int:
    """The log's size once it holds the launch lines of `flows` flows after `start`: gunicorn
    writes a request's line just after its response, so the last flow's line may come a
    moment after the client has its answer."""
    deadline = time.monotonic() + timeout
    while True:
        end = _log_size(path)
        lines = _log_lines(path, start, end)
        if sum(" /lti/launch " in f" {line} " for line in lines) >= flows:
            return end
        if time.monotonic() > deadline:
            raise RuntimeError(f"gunicorn logged fewer than {flows} launches in {timeout:.0f}s")
        time.sleep(0.05)


@click.command("launch")
@click.option("-n", "--launches", default=200, show_default=True, help="Flows per phase.")
@click.option("-c", "--concurrency", default=8, show_default=True, help="Parallel browsers.")
@click.option("--workers", default=2, show_default=True, help="gunicorn worker processes.")
@click.option("--threads", default=4, show_default=True, help="Threads per worker.")
@click.option("--warmup", default=10, show_default=True)
@click.option("--database-url", default=None, help="Default: a fresh SQLite file.")
@click.option("--proxy", type=click.Choice(["none", "nginx"]), default="none", show_default=True,
              help="nginx: TLS terminated by nginx in front of gunicorn (as in production).")
def launch(
    launches: int,
    concurrency: int,
    workers: int,
    threads: int,
    warmup: int,
    database_url: str | None,
    proxy: str,
) -> None:
    """Full login+launch flows: p50/p99 ms and launches/s, sequential and concurrent (JSON)."""
    if launches < 1 or concurrency < 1:
        raise click.BadParameter("launches and concurrency must be at least 1")
    users = ["101", "102", "103", "201"]
    # The in-process platform would otherwise log every request to the terminal.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with (
        tempfile.TemporaryDirectory(prefix="metis-bench-") as tmp,
        _servers(Path(tmp), workers, threads, database_url, proxy) as servers,
    ):
        platform_url, link_id, cert = servers.platform_url, servers.link_id, servers.cert
        for i in range(warmup):
            one_flow(platform_url, link_id, users[i % len(users)], cert)
        seq_from = _log_size(servers.access_log)
        start = time.perf_counter()
        sequential = [
            one_flow(platform_url, link_id, users[i % len(users)], cert) for i in range(launches)
        ]
        seq_wall = time.perf_counter() - start
        conc_from = _logged(servers.access_log, seq_from, launches)
        start = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            concurrent = list(
                pool.map(
                    lambda i: one_flow(platform_url, link_id, users[i % len(users)], cert),
                    range(launches),
                )
            )
        conc_wall = time.perf_counter() - start
        conc_end = _logged(servers.access_log, conc_from, launches)
        seq_lines = _log_lines(servers.access_log, seq_from, conc_from)
        conc_lines = _log_lines(servers.access_log, conc_from, conc_end)
    server = f"gunicorn gthread, {workers} workers x {threads} threads"
    result = {
        "benchmark": "lti_login_launch",
        "server": (f"nginx (TLS, 1 worker) -> {server}, HTTP" if proxy == "nginx"
                   else f"{server}, HTTPS"),
        "proxy": proxy,
        # gunicorn's own time per request: Metis's part of a launch, without the platform,
        # the client or (behind nginx) the TLS handshake.
        "metis_server_time": {"sequential": server_ms(seq_lines),
                              "concurrent": server_ms(conc_lines)},
        "database": "postgresql" if database_url else "sqlite",
        "cpu_count": os.cpu_count(),
        "sequential": _summary(sequential, seq_wall),
        "concurrent": {"concurrency": concurrency, **_summary(concurrent, conc_wall)},
        "note": "times include the in-process demo platform and client on the same machine",
    }
    click.echo(json.dumps(result, indent=2))
