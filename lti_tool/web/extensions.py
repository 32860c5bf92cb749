"""Per-app handles to shared services, kept in `app.extensions` (never module globals)."""

from __future__ import annotations

from typing import Any

import redis
from celery import Celery
from flask import Flask, current_app

from lti_tool.core.db import Database
from lti_tool.settings import Settings
from lti_tool.task_queue import create_celery


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions["metis.settings"] = settings
    app.extensions["metis.db"] = Database(settings.effective_database_url)
    app.extensions["metis.redis"] = redis.Redis.from_url(
        settings.effective_redis_url,
        socket_timeout=2,
        socket_connect_timeout=2,
    )


def settings() -> Settings:
    return current_app.extensions["metis.settings"]


def database() -> Database:
    return current_app.extensions["metis.db"]


def redis_client() -> redis.Redis:
    return current_app.extensions["metis.redis"]


def celery_client() -> Celery:
    """A Celery app used only to enqueue by task name; created on first use."""
    app: Any = current_app
    client = app.extensions.get("metis.celery")
    if client is None:
        client = create_celery(settings())
        app.extensions["metis.celery"] = client
    return client
