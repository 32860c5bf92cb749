"""`metis db upgrade`: bring the database schema to the latest revision."""

from __future__ import annotations

import click

from lti_tool.core.db.migrate import upgrade
from lti_tool.settings import load_settings


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def upgrade_cmd() -> None:
    """Apply all migrations."""
    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.effective_database_url)
    click.echo("database is at the latest revision")
