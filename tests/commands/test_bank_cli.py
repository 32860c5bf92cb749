"""`metis bank import|export|list|demo` against a real migrated database."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from lti_tool.cli import cli
from lti_tool.core.db import Database
from lti_tool.core.db.models import Platform
from lti_tool.core.itembank import moodle_xml
from lti_tool.settings import Settings
from tests.support.bank_samples import SAMPLES
from tests.support.hostile_banks import billion_laughs


@pytest.fixture()
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {"METIS_MODE": "test", "METIS_DATABASE_URL": settings.database_url,
                       "METIS_REDIS_URL": settings.redis_url, "METIS_BASE_URL": settings.base_url,
                       "METIS_SECRET_KEY": "test-secret"}.items():
        monkeypatch.setenv(key, value or "")


def test_import_list_export_demo(env: None, db: Database, tmp_path: Path) -> None:
    with db.session() as s:
        platform = Platform(issuer="https://lms.example", client_id="c", auth_login_url="x",
                            auth_token_url="x", key_set_url="x")
        s.add(platform)
        s.flush()
        platform_id = platform.id
    run = CliRunner().invoke
    args = ["bank", "import", str(SAMPLES / "sample-moodle.xml"), "--platform-id",
            str(platform_id), "--context", "course-9"]
    first = run(cli, args)
    assert first.exit_code == 0, first.output
    assert "5 imported, 0 updated, 1 rejected" in first.output
    assert "rejected question 6 (Explain fractions): essay" in first.output
    again = run(cli, [*args, "--bank", "sample-moodle"])
    assert "0 imported, 5 updated" in again.output

    listed = run(cli, ["bank", "list"])
    assert listed.exit_code == 0 and "sample-moodle" in listed.output
    bank_id = listed.output.splitlines()[1].split()[0]
    out = tmp_path / "out.xml"
    exported = run(cli, ["bank", "export", bank_id, "--out", str(out)])
    assert exported.exit_code == 0 and "5 questions written" in exported.output
    assert moodle_xml.parse(out.read_bytes()).questions == \
        moodle_xml.parse((SAMPLES / "sample-moodle.xml").read_bytes()).questions

    demo = run(cli, ["bank", "demo", "--platform-id", str(platform_id), "--context", "course-9"])
    assert demo.exit_code == 0 and "demo bank" in demo.output
    assert "216" in run(cli, ["bank", "list"]).output
    with db.session() as s:
        assert s.scalar(select(Platform.id)) == platform_id


def test_clear_errors(env: None, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.xml"
    bomb.write_bytes(billion_laughs())
    run = CliRunner().invoke
    refused = run(cli, ["bank", "import", str(bomb), "--platform-id", "1", "--context", "c"])
    assert refused.exit_code == 1 and "bomb.xml: the file declares a DTD" in refused.output
    missing = run(cli, ["bank", "import", str(SAMPLES / "sample.gift"), "--platform-id", "999",
                        "--context", "c"])
    assert missing.exit_code == 1 and "no platform with id 999" in missing.output
    nothing = run(cli, ["bank", "export", "999", "--out", str(tmp_path / "x.xml")])
    assert nothing.exit_code == 1 and "no item bank with id 999" in nothing.output
