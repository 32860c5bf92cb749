"""How long one bank import takes inside its web request: parse and save a generated Moodle XML
file of N questions, and one question whose HTML nests D levels deep, into a fresh SQLite
database. Prints JSON. `python -m lti_tool.devkit.bench_import --questions 2000,12000
--depth 100,100000`"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", default="2000,12000")
    parser.add_argument("--depth", default="100,100000")
    args = parser.parse_args(argv)
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
        for n in (int(x) for x in args.questions.split(",") if x):
            out["questions"][n] = timed_import(db, *ids, f"q{n}.xml", moodle_xml(n))
        for depth in (int(x) for x in args.depth.split(",") if x):
            html = "<div>" * depth + "x" + "</div>" * depth
            out["nesting"][depth] = timed_import(db, *ids, f"d{depth}.xml", moodle_xml(1, html))
        db.dispose()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
