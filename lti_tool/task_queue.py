"""The Celery configuration both sides share (task names: lti_tool.core.task_names).

The web process enqueues by name with a Celery app built here (it never imports the task code,
nor torch); the workers build their app from the same configuration and register the tasks under
the same names, so a name or a route cannot drift apart.
"""

from __future__ import annotations

from celery import Celery

from lti_tool.core.task_names import (
    ADAPT_TASK,
    MAINTENANCE_QUEUE,
    PASSBACK_TASK,
    QUEUES,
    RECONCILE_TASK,
    RELAY_TASK,
    RETRAIN_TASK,
    ROUTES,
)
from lti_tool.settings import Settings

__all__ = [
    "ADAPT_TASK", "PASSBACK_TASK", "QUEUES", "RECONCILE_TASK", "RELAY_TASK", "RETRAIN_TASK",
    "create_celery",
]

# Task time limits stay well under the broker's visibility timeout, so a task that outlives its
# worker is redelivered only after it can no longer be running.
VISIBILITY_TIMEOUT_S = 3600
TASK_HARD_LIMIT_S = 300
TASK_SOFT_LIMIT_S = 240


def create_celery(settings: Settings) -> Celery:
    """A Celery app on the configured broker; no connection is made until it is used."""
    app = Celery("metis", broker=settings.effective_redis_url, set_as_current=False)
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
        task_routes={task: {"queue": queue} for task, queue in ROUTES.items()},
        task_default_queue=MAINTENANCE_QUEUE,
        # Task events (sent, received, started, succeeded, failed) so that Flower, or any
        # Celery event monitor, shows the tasks without extra configuration.
        worker_send_task_events=True,
        task_send_sent_event=True,
    )
    return app
