"""`metis bench load`: Locust, headless, against the demo stack (started here) or a running one.

Locust runs as a child process (it patches the standard library with gevent when imported) and
prints its progress table to the terminal; its statistics file is summarised into --json
(lti_tool.devkit.load.report) and its HTML report is written to --html.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from lti_tool.devkit.load.report import summary
from lti_tool.devkit.load.stack import Stack, demo_stack

LOCUSTFILE = Path(__file__).with_name("locustfile.py")


@contextmanager
def _target(host: str | None, ca_bundle: str | None, data_dir: Path,
            users: int) -> Iterator[Stack]:
    if host:
        yield Stack(host.rstrip("/"), ca_bundle or "", data_dir / "logs")
        return
    click.echo("Starting the demo stack (Metis, demo LMS, Redis, one worker)...")
    with demo_stack(data_dir, users) as stack:
        yield stack


def run_locust(stack: Stack, users: int, rate: float, duration: int, html: Path | None,
               workdir: Path, env_extra: dict[str, str]) -> tuple[int, list[Any], list[Any]]:
    """Locust headless; returns its exit code, its statistics and its failures."""
    stats_base, errors_path = workdir / "locust", workdir / "errors.json"
    argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
            "-u", str(users), "-r", str(rate), "-t", f"{duration}s", "-H", stack.platform_url,
            "--json-file", str(stats_base)]
    if html is not None:
        argv += ["--html", str(html)]
    env = {**os.environ, **env_extra, "METIS_LOAD_ERRORS": str(errors_path)}
    if stack.ca_bundle:
        env["METIS_LOAD_CA_BUNDLE"] = stack.ca_bundle
    code = subprocess.call(argv, env=env)
    stats_file = stats_base.with_suffix(".json")  # Locust adds the suffix itself
    if not stats_file.exists():
        raise click.ClickException(f"Locust wrote no statistics (exit code {code})")
    stats = json.loads(stats_file.read_text())
    errors = json.loads(errors_path.read_text()) if errors_path.exists() else []
    return code, stats, errors


@click.command("load")
@click.option("--users", default=20, show_default=True, type=click.IntRange(1, 5000),
              help="Simulated students (Locust users), each its own LTI launch.")
@click.option("--rate", default=5.0, show_default=True, type=click.FloatRange(0.1, 1000),
              help="Students started per second.")
@click.option("--duration", default=30, show_default=True, type=click.IntRange(1, 86400),
              help="Seconds of load, ramp-up included.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the summary here (also printed).")
@click.option("--html", "html_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write Locust's HTML report here.")
@click.option("--host", default=None,
              help="The demo LMS of a running stack (e.g. https://localhost:5001) instead of "
                   "starting one; it needs METIS_DEMO_EXTRA_LEARNERS >= --users.")
@click.option("--ca-bundle", default=None, type=click.Path(exists=True, dir_okay=False),
              help="With --host: the CA bundle that trusts its certificate.")
@click.option("--next-set-timeout", default=60.0, show_default=True,
              type=click.FloatRange(1, 3600),
              help="Seconds a student waits for the next set before it counts as a failure.")
@click.option("--data-dir", default=Path("var/bench-load"), show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Database, certificates and logs of the stack started here.")
def load(users: int, rate: float, duration: int, json_out: Path | None, html_out: Path | None,
         host: str | None, ca_bundle: str | None, next_set_timeout: float,
         data_dir: Path) -> None:
    """Many students launching and answering over HTTPS (Locust): JSON and HTML reports."""
    if host is not None and not host.startswith(("https://", "http://")):
        raise click.BadParameter("must be a URL, e.g. https://localhost:5001", param_hint="--host")
    for out in (json_out, html_out):
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
    with (_target(host, ca_bundle, data_dir, users) as stack,
          tempfile.TemporaryDirectory(prefix="metis-load-") as tmp):
        click.echo(f"Locust: {users} students at {rate:g}/s for {duration} s against "
                   f"{stack.platform_url}")
        code, stats, errors = run_locust(
            stack, users, rate, duration, html_out, Path(tmp),
            {"METIS_LOAD_NEXT_SET_S": str(next_set_timeout)})
    config = {"users": users, "spawn_rate": rate, "duration_s": duration,
              "host": host or "demo stack started by the command",
              "stack": "gunicorn gthread 2x16 (Metis) + demo LMS 1x16, 1 Celery worker, SQLite"
              if host is None else "as given", "cpus": os.cpu_count(),
              "html_report": str(html_out) if html_out else None}
    report = summary(stats, errors, config)
    text = json.dumps(report, indent=2)
    if json_out is not None:
        json_out.write_text(text + "\n")
    click.echo(text)
    if report["failures"] or code != 0:
        raise click.ClickException(
            f"{report['failures']} failure(s), Locust exit code {code} (see 'errors' above)")
