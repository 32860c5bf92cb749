"""How long one bank import takes inside its web request: parse and save a generated Moodle XML
file of N questions, and one question whose HTML nests D levels deep, into a fresh SQLite
database. Prints JSON. `metis bench import --questions 2000,12000 --depth 100,100000`"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from lti_tool.core.db import Database
from lti_tool.core.db.migrate import upgrade
from lti_tool.core.db.models import Context, Platform
from lti_tool.core.itembank import read_bank
from lti_tool.core.itembank.model import ImportFileError
from lti_tool.core.itembank.store import save_import


def moodle_xml(questions: int, text: str = "<p>What is 1 + 1?</p>") -> bytes:
    one = ('<question type="multichoice"><name><text>Q{n}</text></name>'
           '<questiontext format="html"><text><![CDATA[{text}]]></text></questiontext>'
           '<single>true</single><answer fraction="100"><text>2</text></answer>'
           '<answer fraction="0"><text>3</text></answer></question>')
    body = "".join(one.format(n=n, text=text) for n in range(questions))
    return f'<?xml version="1.0"?><quiz>{body}</quiz>'.encode()


def timed_import(db: Database, platform_id: int, context_id: int, name: str,
                 data: bytes) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        parsed = read_bank(name, data)
    except ImportFileError as exc:
        return {"bytes": len(data), "refused_s": round(time.perf_counter() - started, 3),
                "message": str(exc)}
    parsed_at = time.perf_counter()
    with db.session() as s:
        report = save_import(s, parsed, platform_id=platform_id, context_id=context_id,
                             bank_name=name)
    return {"bytes": len(data), "parse_s": round(parsed_at - started, 3),
            "save_s": round(time.perf_counter() - parsed_at, 3), "imported": report.imported,
            "rejected": [r.reason for r in report.rejected][:1]}


def _counts(text: str, what: str) -> list[int]:
    try:
        counts = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(f"{what} must be whole numbers separated by commas") from None
    if any(n < 1 for n in counts):
        raise click.BadParameter(f"{what} must be at least 1")
    return counts


@click.command("import")
@click.option("--questions", default="2000,12000", show_default=True,
              help="Questions per generated Moodle XML file, comma-separated.")
@click.option("--depth", default="100,100000", show_default=True,
              help="Nesting depths of one question's HTML, comma-separated.")
def bench_import(questions: str, depth: str) -> None:
    """One bank import inside its request: parse + save N questions; deep HTML refused fast."""
    sizes, depths = _counts(questions, "--questions"), _counts(depth, "--depth")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        db = Database(url)
        with db.session() as s:
            platform = Platform(issuer="https://lms.example", client_id="bench",
                                auth_login_url="-", auth_token_url="-", key_set_url="-")
            s.add(platform)
            s.flush()
            context = Context(platform_id=platform.id, context_id="bench")
            s.add(context)
            s.flush()
            ids = platform.id, context.id
        out: dict[str, Any] = {"questions": {}, "nesting": {}}
        for n in sizes:
            out["questions"][n] = timed_import(db, *ids, f"q{n}.xml", moodle_xml(n))
        for d in depths:
            html = "<div>" * d + "x" + "</div>" * d
            out["nesting"][d] = timed_import(db, *ids, f"d{d}.xml", moodle_xml(1, html))
        db.dispose()
    click.echo(json.dumps(out, indent=2))
