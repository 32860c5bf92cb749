"""The Celery application, built from settings by a factory (no broker connection at import)."""

from __future__ import annotations

from celery import Celery

from lti_tool.settings import Settings

# Task time limits stay well under the broker's visibility timeout, so a task that outlives its
# worker is redelivered only after it can no longer be running.
VISIBILITY_TIMEOUT_S = 3600
TASK_HARD_LIMIT_S = 300
TASK_SOFT_LIMIT_S = 240


def create_celery(settings: Settings) -> Celery:
    broker = settings.redis_url or "redis://127.0.0.1:6379/0"
    app = Celery("metis", broker=broker, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=TASK_HARD_LIMIT_S,
        task_soft_time_limit=TASK_SOFT_LIMIT_S,
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_S},
        broker_connection_retry_on_startup=True,
        task_routes={
            "metis.adapt": {"queue": "adapt"},
            "metis.passback": {"queue": "passback"},
            "metis.retrain": {"queue": "maintenance"},
            "metis.relay_outbox": {"queue": "maintenance"},
        },
        task_default_queue="maintenance",
    )
    return app
