"""The task queue both sides share: task names, their queues, and the Celery configuration.

The web process enqueues by name with a Celery app built here (it never imports the task code,
nor torch); the workers build their app from the same configuration and register the tasks under
these names. One place for both, so a name or a route cannot drift apart.
"""

from __future__ import annotations

from celery import Celery

from lti_tool.settings import Settings

ADAPT_TASK = "metis.adapt"
PASSBACK_TASK = "metis.passback"
RELAY_TASK = "metis.relay_outbox"
RETRAIN_TASK = "metis.retrain"

# One queue per role, so a slow LMS (passback) never delays adaptation, nor a retrain either.
ADAPT_QUEUE = "adapt"
PASSBACK_QUEUE = "passback"
MAINTENANCE_QUEUE = "maintenance"
QUEUES = (ADAPT_QUEUE, PASSBACK_QUEUE, MAINTENANCE_QUEUE)
ROUTES = {
    ADAPT_TASK: {"queue": ADAPT_QUEUE},
    PASSBACK_TASK: {"queue": PASSBACK_QUEUE},
    RETRAIN_TASK: {"queue": MAINTENANCE_QUEUE},
    RELAY_TASK: {"queue": MAINTENANCE_QUEUE},
}

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
        task_routes=ROUTES,
        task_default_queue=MAINTENANCE_QUEUE,
    )
    return app
