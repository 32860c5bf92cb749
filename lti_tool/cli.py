"""The `metis` command: one click group whose sub-commands live with the code they drive.

Sub-commands are imported only when invoked, so `metis platform list` never loads torch and the
web process never imports meta_engine.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from lti_tool.settings import SettingsError


class LazyGroup(click.Group):
    """A group whose commands are given as "module:attribute" and imported on first use."""

    def __init__(
        self, *args: Any, lazy: dict[str, tuple[str, str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Listing must not import the commands (that would load torch for `metis --help`).
        rows = [(name, self.lazy[name][1]) for name in sorted(self.lazy)]
        rows += [
            (name, cmd.get_short_help_str())
            for name, cmd in sorted(self.commands.items())
            if name not in self.lazy
        ]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(sorted(rows))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module_name, attr = self.lazy[cmd_name][0].split(":")
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                raise click.ClickException(f"'{cmd_name}' is unavailable: {exc}") from None
            command = getattr(module, attr)
            if not isinstance(command, click.Command):
                raise click.ClickException(f"{self.lazy[cmd_name][0]} is not a command")
            return command
        return super().get_command(ctx, cmd_name)


# Each entry: command name -> ("module:click object", short help). Add new sub-commands here.
COMMANDS: dict[str, tuple[str, str]] = {
    "keys": ("lti_tool.commands.keys:keys", "Tool signing keys (list, rotate)."),
    "db": ("lti_tool.commands.db:db", "Database schema (upgrade)."),
    "platform": ("lti_tool.commands.platform:platform", "LMS platform registrations."),
    "deployment": ("lti_tool.commands.platform:deployment", "Platform deployments."),
    "registration-url": ("lti_tool.commands.registration:registration_url", "One-use LMS link."),
    "serve": ("lti_tool.commands.serve:serve", "Production HTTPS server (gunicorn)."),
    "worker": ("lti_tool.commands.serve:worker", "Celery worker for the given queues."),
    "demo": ("lti_tool.commands.demo:demo", "Run everything embedded with a demo course."),
    "models": ("lti_tool.commands.models:models", "Model versions: list, promote."),
    "bank": ("lti_tool.commands.bank:bank", "Item banks: import, export, list, demo."),
    "admin": ("lti_tool.commands.admin:admin", "Local admin accounts (create, list)."),
    "privacy": ("lti_tool.commands.privacy:privacy", "A student's data: export, erase."),
    "train": ("meta_engine.cli:train", "Meta-train the student model and write a checkpoint."),
    "build-default": ("meta_engine.cli:build_default_cmd",
                      "Rebuild the shipped core from simulated courses (reproducible)."),
}

BENCH_COMMANDS: dict[str, tuple[str, str]] = {
    "import": ("lti_tool.devkit.bench_import:bench_import",
               "One bank import inside its request (parse + save; deep HTML refused)."),
    "launch": ("lti_tool.devkit.bench_launch:launch",
               "Full LTI login+launch cost (p50/p99, launches/s)."),
    "engine": ("meta_engine.bench.cli:engine", "Metis vs baselines on real data (strict)."),
    "throughput": ("meta_engine.bench.throughput:throughput",
                   "Batched adaptation students/s per batch size (CPU or CUDA)."),
    "worker-batch": ("workers.bench.batch:worker_batch",
                     "The adapt worker's batched step (adapt + select), CPU or CUDA."),
    "policy": ("meta_engine.bench.policy:policy",
               "Practice-set policies vs BKT-with-forgetting and prerequisite-graph students."),
    "pipeline": ("workers.bench.pipeline:pipeline", "Answer -> new set on the page, end to end."),
    "drain": ("workers.bench.drain:drain", "K pinned adapt workers empty a full queue (PG)."),
    "growth": ("workers.bench.growth:growth", "Worker step vs history length and bank size."),
    "load": ("lti_tool.devkit.load.command:load", "Many students over HTTPS (Locust), JSON+HTML."),
    "transfer": ("meta_engine.bench.transfer_cli:transfer",
                 "A dataset's test students served as a course the model never saw."),
}


@click.group(cls=LazyGroup, lazy=COMMANDS)
def cli() -> None:
    """Metis: adaptive practice for LTI 1.3 platforms."""


@cli.group(cls=LazyGroup, lazy=BENCH_COMMANDS)
def bench() -> None:
    """Benchmarks that print JSON."""


def main() -> None:
    try:
        cli.main(prog_name="metis", standalone_mode=True)
    except SettingsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
