"""`metis demo`: everything embedded, with a demo course (what `make demo` runs)."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command()
@click.option("--port", default=8443, show_default=True, envvar="METIS_DEMO_PORT", type=int)
@click.option(
    "--platform-port",
    default=None,
    envvar="METIS_DEMO_PLATFORM_PORT",
    type=int,
    help="Port of the demo course page [default: --port + 1].",
)
@click.option(
    "--data-dir",
    default=Path("var"),
    show_default=True,
    envvar="METIS_DEMO_DATA_DIR",
    type=click.Path(file_okay=False, path_type=Path),
)
@click.option("--no-worker", is_flag=True, help="Do not start a Celery worker.")
def demo(port: int, platform_port: int | None, data_dir: Path, no_worker: bool) -> None:
    """Run Metis, Redis, a worker and a demo LMS course on this machine over HTTPS."""
    from lti_tool.devkit.demo.runner import DemoOptions, run_demo

    if platform_port == port:
        raise click.BadParameter("must differ from --port", param_hint="--platform-port")
    sys.exit(run_demo(DemoOptions(port, platform_port or port + 1, data_dir, not no_worker)))
