"""`metis models list|promote`: the model versions workers can serve, and which one is active."""

from __future__ import annotations

import json
from typing import Any

import click
import redis
from sqlalchemy import select

from lti_tool.core.db import Database
from lti_tool.core.db.models import ModelVersion
from lti_tool.core.model_versions import promote
from lti_tool.settings import load_settings


@click.group()
def models() -> None:
    """Model versions and promotion."""


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_models(as_json: bool) -> None:
    """List model versions with their status and held-out metrics."""
    db = Database(load_settings().effective_database_url)
    with db.session() as s:
        rows: list[dict[str, Any]] = [
            {"version": m.version, "status": str(m.status), "deployment_id": m.deployment_id,
             "metrics": m.metrics, "created_at": m.created_at.isoformat(),
             "promoted_at": m.promoted_at.isoformat() if m.promoted_at else None, "path": m.path}
            for m in s.scalars(select(ModelVersion).order_by(ModelVersion.created_at))
        ]
    db.dispose()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no model versions yet: workers serve meta_engine's default model")
        return
    for r in rows:
        auc = r["metrics"].get("valid_auc")
        auc_text = f"{auc:.4f}" if isinstance(auc, int | float) else "-"
        click.echo(f"{r['version']:<40} {r['status']:<10} deployment={r['deployment_id']} "
                   f"valid_auc={auc_text}")


@models.command("promote")
@click.argument("version")
def promote_model(version: str) -> None:
    """Make VERSION the active model; running workers switch on their next batch."""
    settings = load_settings()
    db = Database(settings.effective_database_url)
    client = redis.Redis.from_url(settings.redis_url) if settings.redis_url else None
    try:
        promote(db, client, version)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        db.dispose()
    click.echo(f"{version} is now active")
