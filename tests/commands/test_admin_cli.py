"""`metis admin create|list` through click's CliRunner on the `admin` group, against a real
migrated database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select
from werkzeug.security import check_password_hash

from lti_tool.commands.admin import admin
from lti_tool.core.db import Database
from lti_tool.core.db.models import AdminAccount
from lti_tool.settings import Settings
from lti_tool.web import admin_accounts

Invoke = Callable[..., Result]


@pytest.fixture()
def run(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """Invoke `metis admin ...` with the test settings in the environment, as an operator."""
    for key, value in {
        "METIS_MODE": "test",
        "METIS_DATABASE_URL": settings.database_url,
        "METIS_REDIS_URL": settings.redis_url,
        "METIS_SECRET_KEY": "test-secret",
    }.items():
        monkeypatch.setenv(key, value or "")

    def invoke(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(admin, list(args), input=input)

    return invoke


def test_create_prompts_twice_and_list_shows_it(run: Invoke, db: Database) -> None:
    empty = run("list")
    assert empty.exit_code == 0 and "no local admin accounts yet" in empty.output
    made = run("create", "alice", input="a long enough password\na long enough password\n")
    assert made.exit_code == 0, made.output
    assert "admin account 'alice' created" in made.output
    assert "a long enough password" not in made.output  # the prompt does not echo it
    with db.session() as s:
        row = s.scalars(select(AdminAccount)).one()
        assert row.username == "alice"
        assert row.password_hash.startswith("scrypt:")
        assert check_password_hash(row.password_hash, "a long enough password")
    listed = run("list")
    assert listed.exit_code == 0
    assert "alice" in listed.output and "last login never" in listed.output


def test_mismatched_repeat_is_asked_again(run: Invoke, db: Database) -> None:
    r = run("create", "bob",
            input="first long password\nother long password\n"
                  "first long password\nfirst long password\n")
    assert r.exit_code == 0, r.output
    assert "do not match" in r.output.lower() or "don't match" in r.output.lower()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_password_stdin(run: Invoke, db: Database) -> None:
    r = run("create", "carol", "--password-stdin", input="piped in password 123\n")
    assert r.exit_code == 0, r.output
    with db.session() as s:
        assert admin_accounts.authenticate(s, "carol", "piped in password 123") is not None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["create", "dave", "--password-stdin"], "short\n", "too short: use at least 12"),
        (["create", "dave", "--password-stdin"], " " * 14 + "\n", "only spaces"),
        (["create", "da ve", "--password-stdin"], "a long enough password\n", "cannot contain"),
        (["create", "", "--password-stdin"], "a long enough password\n", "1-150 characters"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(
    run: Invoke, db: Database, args: list[str], stdin: str, message: str
) -> None:
    r = run(*args, input=stdin)
    assert r.exit_code == 1 and message in r.output
    assert "Traceback" not in r.output
    with db.session() as s:
        assert s.scalars(select(AdminAccount)).first() is None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_duplicate_username_is_refused_whatever_the_case(run: Invoke, db: Database) -> None:
    assert run("create", "erin", "--password-stdin", input="password number one\n").exit_code == 0
    again = run("create", "ERIN", "--password-stdin", input="password number two\n")
    assert again.exit_code == 1 and "already exists" in again.output
    with db.session() as s:
        assert len(list(s.scalars(select(AdminAccount)))) == 1
