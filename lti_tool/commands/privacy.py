"""`metis privacy export|erase`: what Metis stores about one student, handed over or deleted."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
import redis

from lti_tool.core import privacy as student_data
from lti_tool.core.db import Database
from lti_tool.settings import load_settings


def _who(func: click.decorators.FC) -> click.decorators.FC:
    for option in reversed(
        (
            click.option("--user", "user_id", type=int, help="Metis's user id."),
            click.option("--platform-id", type=int, help="With --sub: the platform's id."),
            click.option("--sub", help="With --platform-id: the LMS's user id (`sub`)."),
        )
    ):
        func = option(func)
    return func


def _resolve(db: Database, user_id: int | None, platform_id: int | None, sub: str | None) -> int:
    try:
        with db.session() as s:
            return student_data.find_user(s, user_id=user_id, platform_id=platform_id, sub=sub).id
    except student_data.PrivacyError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def privacy() -> None:
    """A student's data: export it, or erase it."""


@privacy.command("export")
@_who
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the JSON to this file (readable by its owner only) instead of standard output.",
)
def export_cmd(
    user_id: int | None, platform_id: int | None, sub: str | None, out: Path | None
) -> None:
    """Everything stored about one student, as JSON."""
    db = Database(load_settings().effective_database_url)
    try:
        uid = _resolve(db, user_id, platform_id, sub)
        with db.session() as s:
            data = student_data.export_user(s, uid)
    finally:
        db.dispose()
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        # Personal data: the file is created readable by its owner only.
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror}") from None
    click.echo(f"wrote the data of user {uid} to {out}", err=True)


@privacy.command("erase")
@_who
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase_cmd(user_id: int | None, platform_id: int | None, sub: str | None, yes: bool) -> None:
    """Delete one student's answers, events, practice sets, scores, launches and identity."""
    settings = load_settings()
    db = Database(settings.effective_database_url)
    try:
        uid = _resolve(db, user_id, platform_id, sub)
        if not yes:
            click.confirm(
                f"Erase everything Metis stores about user {uid}? This cannot be undone.",
                abort=True,
            )
        client = (
            redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
            if settings.redis_url
            else None
        )
        try:
            erasure = student_data.erase_user(db, client, uid)
        except student_data.PrivacyError as exc:
            raise click.ClickException(str(exc)) from None
    finally:
        db.dispose()
    for line in erasure.lines():
        click.echo(line)
    click.echo(
        "  retraining reads answers from the database, so these answers are not used again"
    )
