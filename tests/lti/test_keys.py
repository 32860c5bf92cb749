"""Tool key rotation (launches and deep linking continue) and platform key rotation (refetch)."""

from __future__ import annotations

import pytest
import requests
from click.testing import CliRunner

from lti_tool.cli import cli
from lti_tool.devkit.lti_client import login_and_launch
from lti_tool.lti import keys
from tests.support.lti_world import LtiWorld

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _jwks_kids(world: LtiWorld) -> list[str]:
    body = requests.get(f"{world.metis.url}/.well-known/jwks.json", verify=str(world.cert)).json()
    return [k["kid"] for k in body["keys"]]


def test_tool_key_rotation_keeps_old_key_published(lti_world: LtiWorld) -> None:
    first = _jwks_kids(lti_world)
    assert len(first) == 1  # created on first use
    with lti_world.db.session() as s:
        new = keys.rotate(s)
    assert _jwks_kids(lti_world) == [first[0], new.kid]
    link = lti_world.store.add_link("After rotation")
    r = login_and_launch(lti_world.browser(), lti_world.platform.url, user="101", link=link.id)
    assert r.status_code == 303
    # After the grace period only the new key remains.
    with lti_world.db.session() as s:
        assert [k.kid for k in keys.published_keys(s, grace_period_s=0)] == [new.kid]


def test_platform_key_rotation_refetches_jwks(lti_world: LtiWorld) -> None:
    link = lti_world.store.add_link("Before")
    assert (
        login_and_launch(lti_world.browser(), lti_world.platform.url, link=link.id).status_code
        == 303
    )
    lti_world.store.rotate_key()  # the next id_token carries a kid Metis has not cached
    r = login_and_launch(lti_world.browser(), lti_world.platform.url, link=link.id)
    assert r.status_code == 303, r.text


def test_keys_cli(lti_world: LtiWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METIS_MODE", "test")
    monkeypatch.setenv("METIS_DATABASE_URL", lti_world.settings.database_url)
    runner = CliRunner()
    listed = runner.invoke(cli, ["keys", "list"])
    assert listed.exit_code == 0, listed.output
    assert "signing" in listed.output and "published" in listed.output
    rotated = runner.invoke(cli, ["keys", "rotate"])
    assert rotated.exit_code == 0 and "new signing key" in rotated.output
    listed = runner.invoke(cli, ["keys", "list"])
    assert listed.output.count("published") == 2 and "retired" in listed.output
