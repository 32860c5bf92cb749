"""`metis registration-url`: a single-use, expiring dynamic-registration URL for an LMS admin."""

from __future__ import annotations

import click

from lti_tool.commands.platform import cli_session
from lti_tool.lti.registration import tokens
from lti_tool.lti.registration.tool_urls import tool_urls


@click.command("registration-url")
def registration_url() -> None:
    """Print a one-use link to paste into the LMS ("Tool URL" > "Add LTI Advantage")."""
    with cli_session() as (settings, session):
        raw = tokens.mint(session, settings.registration_url_ttl_s)
    click.echo(tool_urls(settings).registration(raw))
    minutes = settings.registration_url_ttl_s // 60
    click.echo(f"valid once, for {minutes} minutes", err=True)
