"""`metis platform add|list|approve|disable` and `metis deployment approve|disable|list`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.orm import Session

from lti_tool.core.db import Database
from lti_tool.lti.registration import manual
from lti_tool.settings import Settings, load_settings


@contextmanager
def cli_session() -> Iterator[tuple[Settings, Session]]:
    """Settings and one transaction; operator mistakes become a clean `Error: ...` exit."""
    settings = load_settings()
    db = Database(settings.effective_database_url)
    try:
        with db.session() as session:
            yield settings, session
    except manual.ManualRegistrationError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        db.dispose()


@click.group()
def platform() -> None:
    """LMS platform registrations."""


@platform.command("add")
@click.option("--issuer", required=True, help="Platform ID (for Moodle: the site URL).")
@click.option("--client-id", required=True)
@click.option("--auth-login-url", required=True, help="Authentication request URL (auth.php).")
@click.option("--auth-token-url", required=True, help="Access token URL (token.php).")
@click.option("--key-set-url", required=True, help="Public keyset URL (certs.php).")
@click.option("--deployment-id", "deployment_ids", multiple=True, help="Repeatable.")
@click.option("--name", default="", help="A label for the admin pages.")
@click.option("--approve", is_flag=True, help="Activate it now instead of leaving it pending.")
def add(
    issuer: str,
    client_id: str,
    auth_login_url: str,
    auth_token_url: str,
    key_set_url: str,
    deployment_ids: tuple[str, ...],
    name: str,
    approve: bool,
) -> None:
    """Register a platform by hand (the values the LMS shows for manual registration)."""
    with cli_session() as (settings, session):
        created = manual.add_platform(
            session,
            settings,
            issuer=issuer,
            client_id=client_id,
            auth_login_url=auth_login_url,
            auth_token_url=auth_token_url,
            key_set_url=key_set_url,
            deployment_ids=deployment_ids,
            name=name,
            active=approve,
        )
        click.echo(f"platform {created.id} added ({created.status})")


@platform.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_cmd(as_json: bool) -> None:
    """Registered platforms with their status and deployments."""
    with cli_session() as (_settings, session):
        platforms = manual.list_platforms(session)
    if as_json:
        click.echo(json.dumps([p.as_dict() for p in platforms], indent=2))
        return
    if not platforms:
        click.echo("no platforms registered")
        return
    rows = [("ID", "STATUS", "VIA", "ISSUER", "CLIENT ID", "DEPLOYMENTS")]
    for p in platforms:
        deployments = ", ".join(
            f"{d.deployment_id}{'' if d.active else ' (inactive)'}" for d in p.deployments
        )
        rows.append(
            (str(p.id), p.status, p.registered_via, p.issuer, p.client_id, deployments or "-")
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@platform.command("approve")
@click.argument("platform_id", type=int)
def approve_cmd(platform_id: int) -> None:
    """Activate a platform (and, on first approval, the deployments it registered with)."""
    with cli_session() as (_settings, session):
        manual.approve_platform(session, platform_id)
    click.echo(f"platform {platform_id} is active")


@platform.command("disable")
@click.argument("platform_id", type=int)
def disable_cmd(platform_id: int) -> None:
    """Stop all launches from a platform."""
    with cli_session() as (_settings, session):
        manual.disable_platform(session, platform_id)
    click.echo(f"platform {platform_id} is disabled")


@click.group()
def deployment() -> None:
    """Deployments of a registered platform."""


@deployment.command("approve")
@click.option("--platform", "platform_id", type=int, required=True)
@click.argument("deployment_id")
def deployment_approve(platform_id: int, deployment_id: str) -> None:
    """Allow launches from DEPLOYMENT_ID (recorded if not seen yet)."""
    with cli_session() as (_settings, session):
        manual.set_deployment_active(session, platform_id, deployment_id, True)
    click.echo(f"deployment {deployment_id} of platform {platform_id} is active")


@deployment.command("disable")
@click.option("--platform", "platform_id", type=int, required=True)
@click.argument("deployment_id")
def deployment_disable(platform_id: int, deployment_id: str) -> None:
    """Refuse launches from DEPLOYMENT_ID."""
    with cli_session() as (_settings, session):
        manual.set_deployment_active(session, platform_id, deployment_id, False)
    click.echo(f"deployment {deployment_id} of platform {platform_id} is inactive")


@deployment.command("list")
@click.option("--platform", "platform_id", type=int, default=None)
def deployment_list(platform_id: int | None) -> None:
    """Deployments, one per line: platform, deployment id, status."""
    with cli_session() as (_settings, session):
        platforms = manual.list_platforms(session)
    if platform_id is not None and all(p.id != platform_id for p in platforms):
        raise click.ClickException(f"no platform with id {platform_id}")
    for p in platforms:
        if platform_id is None or p.id == platform_id:
            for d in p.deployments:
                click.echo(f"{p.id}\t{d.deployment_id}\t{'active' if d.active else 'inactive'}")
