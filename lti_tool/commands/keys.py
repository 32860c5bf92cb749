"""`metis keys list|rotate`: the tool's signing keys."""

from __future__ import annotations

import click

from lti_tool.core.db import Database
from lti_tool.lti import keys as tool_keys
from lti_tool.settings import load_settings


def _db() -> tuple[Database, int]:
    settings = load_settings()
    return Database(settings.effective_database_url), settings.key_grace_period_s


@click.group()
def keys() -> None:
    """The tool's RSA signing keys (published at /.well-known/jwks.json)."""


@keys.command("list")
def list_cmd() -> None:
    """Show every key, its status, and whether the JWKS still publishes it."""
    db, grace = _db()
    try:
        with db.session() as s:
            tool_keys.signing_key(s)  # the first key is made here, never at import
            published = {k.kid for k in tool_keys.published_keys(s, grace)}
            signer = tool_keys.signing_key(s).kid
            for key in tool_keys.all_keys(s):
                flags = []
                if key.kid == signer:
                    flags.append("signing")
                if key.kid in published:
                    flags.append("published")
                retired = f" retired {key.retired_at:%Y-%m-%d %H:%M}" if key.retired_at else ""
                click.echo(
                    f"{key.kid}  {key.status.value:<8} created {key.created_at:%Y-%m-%d %H:%M}"
                    f"{retired}  {' '.join(flags)}"
                )
    finally:
        db.dispose()


@keys.command("rotate")
def rotate_cmd() -> None:
    """Make a new signing key; the old one stays published for the grace period."""
    db, grace = _db()
    try:
        with db.session() as s:
            new = tool_keys.rotate(s)
            kid = new.kid
        click.echo(f"new signing key {kid}; previous keys stay published for {grace} s")
    finally:
        db.dispose()
