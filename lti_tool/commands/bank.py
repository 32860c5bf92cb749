"""`metis bank import|export|list|demo`: item banks from the command line."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import select

from lti_tool.commands.platform import cli_session
from lti_tool.core.db.models import ItemBank, Platform
from lti_tool.core.itembank import FORMATS, ImportFileError, moodle_xml, read_bank
from lti_tool.core.itembank.demo_bank import ensure_demo_bank
from lti_tool.core.itembank.model import ImportReport
from lti_tool.core.itembank.store import course_banks, course_context, load_questions, save_import


@click.group()
def bank() -> None:
    """Item banks: import, export, list, demo."""


def _report(report: ImportReport) -> None:
    click.echo(f"bank {report.bank_id} ({report.bank_name}): {report.imported} imported, "
               f"{report.updated} updated, {len(report.rejected)} rejected")
    for r in report.rejected:
        click.echo(f"  rejected question {r.position} ({r.name}): {r.reason}")
    for warning in report.warnings:
        click.echo(f"  warning: {warning}")


@bank.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--platform-id", type=int, required=True,
              help="Metis platform id (metis platform list).")
@click.option("--context", "context_id", required=True, help="The LMS course (context) id.")
@click.option("--bank", "bank_name", default="", help="Bank name (default: the file name).")
@click.option("--format", "fmt", type=click.Choice(["auto", *FORMATS]), default="auto",
              show_default=True, help="File format; auto: from the file extension.")
def import_cmd(file: Path, platform_id: int, context_id: str, bank_name: str, fmt: str) -> None:
    """Import a Moodle XML, GIFT or CSV file into a course's bank (re-import updates it)."""
    data = file.read_bytes()
    try:
        parsed = read_bank(file.name, data, fmt)
    except ImportFileError as exc:
        raise click.ClickException(f"{file.name}: {exc}") from None
    with cli_session() as (_settings, session):
        if session.get(Platform, platform_id) is None:
            raise click.ClickException(f"no platform with id {platform_id} (metis platform list)")
        context = course_context(session, platform_id, context_id)
        report = save_import(session, parsed, platform_id=platform_id, context_id=context.id,
                             bank_name=bank_name or file.stem)
    _report(report)


@bank.command("export")
@click.argument("bank_id", type=int)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the Moodle XML file.")
def export_cmd(bank_id: int, out: Path) -> None:
    """Write a bank as Moodle XML (importable by Moodle and by `metis bank import`)."""
    with cli_session() as (_settings, session):
        found = session.get(ItemBank, bank_id)
        if found is None:
            raise click.ClickException(f"no item bank with id {bank_id} (metis bank list)")
        questions = load_questions(session, found)
    out.write_bytes(moodle_xml.export(questions))
    click.echo(f"{len(questions)} questions written to {out}")


@bank.command("list")
def list_cmd() -> None:
    """Every bank with its course, item and skill counts."""
    with cli_session() as (_settings, session):
        courses = session.execute(
            select(ItemBank.platform_id, ItemBank.context_id).distinct()
            .order_by(ItemBank.platform_id, ItemBank.context_id)
        ).all()
        rows = []
        for platform_id, context_pk in courses:
            if platform_id is None or context_pk is None:
                continue
            for summary in course_banks(session, platform_id, context_pk):
                rows.append((summary, platform_id, context_pk))
    if not rows:
        click.echo("no item banks")
        return
    click.echo(f"{'id':>5}  {'platform':>8}  {'course':>6}  {'items':>5}  {'skills':>6}  name")
    for s, platform_id, context_pk in rows:
        click.echo(f"{s.id:>5}  {platform_id:>8}  {context_pk:>6}  {s.items:>5}  {s.skills:>6}  "
                   f"{s.name}")


@bank.command("demo")
@click.option("--platform-id", type=int, required=True)
@click.option("--context", "context_id", required=True, help="The LMS course (context) id.")
def demo_cmd(platform_id: int, context_id: str) -> None:
    """Add the generated demo bank (216 arithmetic questions) to a course, once."""
    with cli_session() as (_settings, session):
        if session.get(Platform, platform_id) is None:
            raise click.ClickException(f"no platform with id {platform_id} (metis platform list)")
        context = course_context(session, platform_id, context_id)
        found = ensure_demo_bank(session, platform_id, context.id)
        click.echo(f"demo bank {found.id} ({found.name}) is in course {context_id}")
