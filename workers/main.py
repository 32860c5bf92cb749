"""The worker entry point: `celery -A workers.main worker -Q adapt,passback,maintenance`.

Building the app here (at import) is what Celery's `-A` expects; the web process never imports
this module, it enqueues by task name.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import worker_process_init, worker_process_shutdown

from lti_tool.core import scheduler_heartbeat
from lti_tool.settings import load_settings
from lti_tool.task_queue import RECONCILE_TASK, RELAY_TASK, RETRAIN_TASK, create_celery
from workers.beat import BeatSupervisor
from workers.tasks import register

RELAY_EVERY_S = 15.0
# Read recent scores back from the LMS and repair mismatches (bounded per run, idempotent).
RECONCILE_EVERY_S = 600.0
RETRAIN_EVERY_S = 24 * 3600.0


def create_worker_app() -> Celery:
    settings = load_settings()
    app = create_celery(settings)
    app.conf.beat_schedule = {
        "relay-outbox": {"task": RELAY_TASK, "schedule": RELAY_EVERY_S},
        "reconcile-scores": {"task": RECONCILE_TASK, "schedule": RECONCILE_EVERY_S},
        "retrain": {"task": RETRAIN_TASK, "schedule": RETRAIN_EVERY_S},
    }
    # Beat under supervision (workers.beat): a heartbeat on every pass of its loop, which runs
    # at least every scheduler_heartbeat.EVERY_S, and a worker step that restarts it.
    app.conf.beat_scheduler = "workers.beat:HeartbeatScheduler"
    app.conf.beat_max_loop_interval = scheduler_heartbeat.EVERY_S
    app.steps["worker"].add(BeatSupervisor)
    register(app)

    @worker_process_init.connect(weak=False)
    def _init(**_: Any) -> None:
        from workers.metrics import serve as serve_metrics
        from workers.process import init_process

        init_process(settings)
        serve_metrics(settings.worker_metrics_port)  # this pool process's own port (or off)

    @worker_process_shutdown.connect(weak=False)
    def _leave(**_: Any) -> None:
        from workers.process import shutdown_process

        shutdown_process()

    return app


app = create_worker_app()
