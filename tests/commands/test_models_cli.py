from __future__ import annotations

import json

import pytest
import redis
from click.testing import CliRunner

from lti_tool.cli import cli
from lti_tool.core.db import Database
from lti_tool.core.db.models import ModelStatus, ModelVersion
from lti_tool.core.model_versions import ACTIVE_MODEL_KEY
from lti_tool.settings import Settings


def test_list_and_promote(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in (("MODE", "test"), ("DATABASE_URL", settings.database_url),
                       ("REDIS_URL", settings.redis_url), ("SECRET_KEY", "x")):
        monkeypatch.setenv(f"METIS_{key}", value)
    with db.session() as s:
        s.add_all([
            ModelVersion(version="v1", path="/m/v1", status=ModelStatus.active,
                         metrics={"valid_auc": 0.71}),
            ModelVersion(version="v2", path="/m/v2", metrics={"valid_auc": 0.74}),
        ])
    runner = CliRunner()
    listed = runner.invoke(cli, ["models", "list"])
    assert listed.exit_code == 0 and "v1" in listed.output and "0.7400" in listed.output
    promoted = runner.invoke(cli, ["models", "promote", "v2"])
    assert promoted.exit_code == 0, promoted.output
    rows = {r["version"]: r for r in json.loads(
        runner.invoke(cli, ["models", "list", "--json"]).output)}
    assert rows["v2"]["status"] == "active" and rows["v1"]["status"] == "retired"
    # Neither names a deployment: v2 now serves every deployment without a model of its own.
    assert redis.Redis.from_url(settings.redis_url).hget(ACTIVE_MODEL_KEY, "*") == b"v2"
    missing = runner.invoke(cli, ["models", "promote", "nope"])
    assert missing.exit_code != 0 and "no model version" in missing.output
