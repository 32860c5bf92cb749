"""The registration CLI against a real migrated database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from lti_tool.cli import cli
from lti_tool.core.db import Database
from lti_tool.core.db.models import Deployment, Platform, PlatformStatus, RegistrationToken
from lti_tool.settings import Settings

Invoke = Callable[..., Result]
MOODLE = "https://moodle.example.org"
ADD = [
    "platform",
    "add",
    "--issuer",
    MOODLE,
    "--client-id",
    "abc123",
    "--auth-login-url",
    f"{MOODLE}/mod/lti/auth.php",
    "--auth-token-url",
    f"{MOODLE}/mod/lti/token.php",
    "--key-set-url",
    f"{MOODLE}/mod/lti/certs.php",
    "--deployment-id",
    "7",
    "--name",
    "School Moodle",
]


@pytest.fixture()
def run(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """Invoke `metis ...` with the test settings in the environment, as an operator would."""
    for key, value in {
        "METIS_MODE": "test",
        "METIS_DATABASE_URL": settings.database_url,
        "METIS_REDIS_URL": settings.redis_url,
        "METIS_BASE_URL": settings.base_url,
        "METIS_SECRET_KEY": "test-secret",
        "METIS_ALLOW_LOOPBACK_PLATFORMS": "0",
    }.items():
        monkeypatch.setenv(key, value)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke


def test_add_list_approve_disable(run: Invoke, db: Database) -> None:
    added = run(*ADD)
    assert added.exit_code == 0, added.output
    assert "pending" in added.output
    with db.session() as s:
        platform = s.scalars(select(Platform)).one()
        assert (platform.issuer, platform.client_id, platform.name) == (
            MOODLE,
            "abc123",
            "School Moodle",
        )
        assert platform.status == PlatformStatus.pending
        pid = platform.id

    listed = run("platform", "list", "--json")
    [row] = json.loads(listed.output)
    assert row["status"] == "pending"
    assert row["deployments"][0]["deployment_id"] == "7"
    assert row["deployments"][0]["active"] is False

    assert run("platform", "approve", str(pid)).exit_code == 0
    table = run("platform", "list").output
    assert "active" in table and MOODLE in table and "7" in table and "inactive" not in table

    assert run("platform", "disable", str(pid)).exit_code == 0
    with db.session() as s:
        assert s.get(Platform, pid).status == PlatformStatus.disabled  # type: ignore[union-attr]


def test_deployment_approve_and_list(run: Invoke, db: Database) -> None:
    assert run(*ADD).exit_code == 0
    with db.session() as s:
        pid = s.scalars(select(Platform.id)).one()
    result = run("deployment", "approve", "--platform", str(pid), "new-deployment")
    assert result.exit_code == 0, result.output
    with db.session() as s:
        states = {d.deployment_id: d.active for d in s.scalars(select(Deployment))}
    assert states == {"7": False, "new-deployment": True}
    listed = run("deployment", "list", "--platform", str(pid)).output.splitlines()
    assert sorted(listed) == [f"{pid}\t7\tinactive", f"{pid}\tnew-deployment\tactive"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["platform", "approve", "999"], "no platform with id 999"),
        (["platform", "disable", "999"], "no platform with id 999"),
        (["deployment", "approve", "--platform", "999", "x"], "no platform with id 999"),
        (["platform", "approve", "abc"], "'abc' is not a valid integer"),
    ],
)
def test_unknown_ids_fail_cleanly(run: Invoke, args: list[str], message: str) -> None:
    result = run(*args)
    assert result.exit_code != 0
    assert message in result.output


def test_add_rejects_bad_input(run: Invoke) -> None:
    plain = [a.replace("https://", "http://") if a.endswith(".php") else a for a in ADD]
    result = run(*plain)
    assert result.exit_code == 1
    assert "--auth-login-url must use HTTPS" in result.output
    missing = run("platform", "add", "--issuer", MOODLE)
    assert missing.exit_code == 2
    assert "Missing option" in missing.output
    assert run(*ADD).exit_code == 0
    duplicate = run(*ADD)
    assert duplicate.exit_code == 1
    assert "already has issuer" in duplicate.output


def test_registration_url_is_single_use_link(run: Invoke, db: Database) -> None:
    result = CliRunner().invoke(cli, ["registration-url"])
    assert result.exit_code == 0, result.output
    url = result.stdout.strip()
    assert url.startswith("https://127.0.0.1:8443/lti/register/")
    with db.session() as s:
        token = s.scalars(select(RegistrationToken)).one()
    # Only a hash is stored, never the link's secret.
    assert token.token_hash not in url and url.rsplit("/", 1)[1] != token.token_hash
    assert token.used_at is None
