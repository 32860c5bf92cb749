"""`metis admin create|list`: local administrator accounts for the admin pages."""

from __future__ import annotations

import sys

import click

from lti_tool.core.db import Database
from lti_tool.settings import load_settings
from lti_tool.web import admin_accounts


def _db() -> Database:
    return Database(load_settings().effective_database_url)


@click.group()
def admin() -> None:
    """Local admin accounts (log in at /admin/login)."""


@admin.command("create")
@click.argument("username")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input instead of prompting.",
)
def create(username: str, password_stdin: bool) -> None:
    """Create a local admin account USERNAME (asks for the password twice)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(
            "Password", hide_input=True, confirmation_prompt="Repeat the password"
        )
    try:
        # Checked before the database is opened, so a short password fails fast.
        admin_accounts.check_new_password(password)
        db = _db()
        try:
            with db.session() as s:
                account = admin_accounts.create_account(s, username, password)
                name = account.username
        finally:
            db.dispose()
    except admin_accounts.AdminAccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"admin account {name!r} created; log in at /admin/login")


@admin.command("list")
def list_cmd() -> None:
    """List local admin accounts and their last login."""
    db = _db()
    try:
        with db.session() as s:
            accounts = admin_accounts.list_accounts(s)
    finally:
        db.dispose()
    if not accounts:
        click.echo("no local admin accounts yet: create one with `metis admin create USERNAME`")
        return
    for a in accounts:
        last = f"{a.last_login_at:%Y-%m-%d %H:%M}" if a.last_login_at else "never"
        click.echo(f"{a.username:<30} created {a.created_at:%Y-%m-%d %H:%M}  last login {last}")
