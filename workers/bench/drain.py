"""`metis bench drain`: how fast K adapt worker processes empty a pre-filled queue.

PostgreSQL is the store (a private cluster), Redis the broker (a private server). For each K:
a fresh database with a seeded course, N real answers stored through `store_answer` for many
simulated students and enqueued; K adapt workers, each pinned to its own core (as K hosts
would be), are started on the empty queue first and told to consume only once every one has
its model loaded, so the clock measures draining and not torch's import. The figure is events
processed per second; `scale_out_ratio` is events/s with 2 workers over events/s with 1.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import redis
from sqlalchemy import func, select

from lti_tool.core import worker_status
from lti_tool.core.answers.submit import AlreadyAnswered, Learner, enqueue, store_answer
from lti_tool.core.db import Database
from lti_tool.core.db.models import (
    Activity,
    Context,
    EventStatus,
    GradeEvent,
    Item,
    PracticeSet,
    User,
)
from lti_tool.core.task_names import ADAPT_QUEUE, ADAPT_TASK
from lti_tool.devkit.demo.seed import seed_demo
from lti_tool.devkit.embedded import PostgresServer, RedisServer
from lti_tool.devkit.fresh_db import fresh_database
from lti_tool.process_argv import worker_argv
from lti_tool.settings import Settings, load_settings
from lti_tool.task_queue import create_celery
from workers.bench.pipeline import Children, wait_workers_ready

ISSUER = "https://lms.bench.example"


def parse_workers(_ctx: click.Context, _param: click.Parameter, text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(f"not a comma-separated list of counts: {text!r}") from None
    if not counts or any(k < 1 or k > 64 for k in counts):
        raise click.BadParameter("worker counts are between 1 and 64")
    return counts


def seed(db: Database, n_students: int) -> tuple[list[Learner], list[int]]:
    """The demo course (its generated bank) and `n_students` learners on one platform."""
    with db.session() as s:
        course = seed_demo(s, issuer=ISSUER, client_id="bench-drain", deployment_id="d1")
        activity = s.get(Activity, course.activity_id)
        assert activity is not None and activity.bank_id is not None
        items = list(s.scalars(select(Item.id).where(Item.bank_id == activity.bank_id)))
        users = [User(platform_id=course.platform_id, sub=f"drain-{n}")
                 for n in range(n_students)]
        s.add_all(users)
        s.flush()
        context = s.get(Context, activity.context_id)
        deployment_id = context.deployment_id if context is not None else None
        learners = [Learner(course.platform_id, deployment_id or 0, activity.context_id,
                            activity.id, u.id) for u in users]
    return learners, items


def prefill(db: Database, settings: Settings, learners: list[Learner], items: list[int],
            n_events: int, seed_value: int) -> list[str]:
    """N graded answers, round-robin over the students (each question once per student, as
    before a first set every answer belongs to it), each stored and its message sent."""
    rng = random.Random(seed_value)
    todo = {n: rng.sample(items, len(items)) for n in range(len(learners))}
    app = create_celery(settings)
    event_ids: list[str] = []
    try:
        def send(event_id: str) -> None:
            app.send_task(ADAPT_TASK, args=[event_id], retry=False)

        k = 0
        while len(event_ids) < n_events:
            n = k % len(learners)
            k += 1
            if not todo[n]:
                raise click.ClickException("too few questions for that many events: raise "
                                           "--students")
            item = todo[n].pop()
            try:
                # Every answer field: the grader reads the one the item's kind needs.
                choice = rng.choice("01")
                stored = store_answer(db, learners[n], item,
                                      {"choice": choice, "value": choice, "text": choice})
            except AlreadyAnswered:
                continue
            if not enqueue(db, stored.event_id, send):
                raise click.ClickException("Redis refused an event")
            event_ids.append(stored.event_id)
    finally:
        app.close()
    return event_ids


def processed_count(db: Database) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(GradeEvent)
                            .where(GradeEvent.status == EventStatus.processed)) or 0)


def wait_ready(client: redis.Redis, n: int, children: Children, timeout: float) -> None:
    """Until n processes say their model is loaded (workers.process.make_ready)."""
    deadline = time.monotonic() + timeout
    while len(worker_status.ready_workers(client)) < n:
        children.check()
        if time.monotonic() > deadline:
            raise click.ClickException(f"{n} worker(s) did not load their model in time")
        time.sleep(0.2)


def _after(at: datetime | None, epoch0: float) -> float | None:
    if at is None:
        return None
    return round((at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp() - epoch0, 3)


def pinned(argv: list[str], core: int) -> list[str]:
    # taskset pins the Celery main process; its pool child inherits the affinity.
    return ["taskset", "-c", str(core), *argv]


def run_once(k: int, pg_url: str, redis_url: str, logs: Path, n_events: int, n_students: int,
             timeout: float, cores: list[int]) -> dict[str, Any]:
    database_url = fresh_database(pg_url, "drain")
    client = redis.Redis.from_url(redis_url)
    client.flushall()
    settings = load_settings(mode="production", secret_key=secrets.token_urlsafe(32),
                             database_url=database_url, redis_url=redis_url,
                             data_dir=logs.parent)
    env = {**os.environ, "METIS_MODE": "production", "METIS_DATABASE_URL": database_url,
           "METIS_REDIS_URL": redis_url, "METIS_SECRET_KEY": settings.secret_key,
           "METIS_DATA_DIR": str(logs.parent), "METIS_THREADS": "1", "OMP_NUM_THREADS": "1"}
    db = Database(database_url)
    children = Children(logs)
    app = create_celery(settings)
    try:
        for n in range(k):
            children.spawn(f"adapt-k{k}-{n}", pinned(
                worker_argv(ADAPT_QUEUE, name=f"adapt{n}", quiet=True), cores[n % len(cores)]),
                env)
        wait_workers_ready(settings, k)
        wait_ready(client, k, children, timeout)
        # Hold consumption while the queue fills, so all K start on a full queue together.
        app.control.cancel_consumer(ADAPT_QUEUE, reply=True, timeout=10, limit=k)
        learners, items = seed(db, n_students)
        t_fill = time.perf_counter()
        event_ids = prefill(db, settings, learners, items, n_events, seed_value=k)
        fill_s = time.perf_counter() - t_fill
        queued = int(client.llen(ADAPT_QUEUE))
        t0, epoch0 = time.perf_counter(), time.time()
        app.control.add_consumer(ADAPT_QUEUE, reply=True, timeout=10, limit=k)
        done = 0
        deadline = time.monotonic() + timeout
        while done < len(event_ids) and time.monotonic() < deadline:
            children.check()
            time.sleep(0.05)
            done = processed_count(db)
        polled_s = time.perf_counter() - t0
        with db.session() as s:
            sets = int(s.scalar(select(func.count()).select_from(PracticeSet)) or 0)
            first, last = s.execute(select(func.min(GradeEvent.processed_at),
                                           func.max(GradeEvent.processed_at))).one()
    finally:
        children.stop()
        app.close()
        client.close()
        db.dispose()
    seconds = _after(last, epoch0) or polled_s
    return {"workers": k, "events": len(event_ids), "queued_before_start": queued,
            "processed": done, "unprocessed": len(event_ids) - done,
            "practice_sets": sets,
            # From the moment the workers were told to consume to the last event processed (the
            # workers' own timestamps, so the poll interval does not count).
            "seconds": round(seconds, 3), "polled_s": round(polled_s, 3),
            "first_processed_after_s": _after(first, epoch0),
            "events_per_s": round(done / max(seconds, 1e-9), 2),
            "cores": [cores[n % len(cores)] for n in range(k)], "prefill_s": round(fill_s, 2)}


@click.command("drain")
@click.option("--workers", "counts", default="1,2", show_default=True, callback=parse_workers,
              help="comma-separated adapt worker counts, one run each")
@click.option("--events", "n_events", default=2000, show_default=True,
              type=click.IntRange(1, 1_000_000))
@click.option("--students", "n_students", default=100, show_default=True,
              type=click.IntRange(1, 100_000))
@click.option("--timeout", default=900.0, show_default=True, type=click.FloatRange(1, 86_400),
              help="upper bound in seconds on each drain (and on model loading)")
@click.option("--data-dir", default=Path("var/bench-drain"), show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="worker logs")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="write the figures here as JSON")
def drain(counts: list[int], n_events: int, n_students: int, timeout: float, data_dir: Path,
          json_out: Path | None) -> None:
    """Events/s of K pinned adapt workers draining a pre-filled queue (PostgreSQL store)."""
    data_dir = data_dir.resolve()
    shutil.rmtree(data_dir / "logs", ignore_errors=True)
    (data_dir / "logs").mkdir(parents=True)
    cores = sorted(os.sched_getaffinity(0))
    load = [round(x, 2) for x in os.getloadavg()]
    runs = []
    with PostgresServer() as pg, RedisServer() as rd:
        for k in counts:
            runs.append(run_once(k, pg.url, rd.url, data_dir / "logs", n_events, n_students,
                                 timeout, cores))
    rate = {str(r["workers"]): r["events_per_s"] for r in runs}
    ratio = (round(rate["2"] / rate["1"], 3) if "1" in rate and "2" in rate and rate["1"] > 0
             else None)
    figures = {"runs": runs, "events_per_s": rate, "scale_out_ratio": ratio,
               "config": {"events": n_events, "students": n_students, "store": "postgresql",
                          "cpus": len(cores), "worker_concurrency": 1,
                          # The machine may be shared: how busy it was, and at what priority.
                          "loadavg_at_start": load, "nice": os.nice(0),
                          "command": "metis " + " ".join(sys.argv[1:])}}
    text = json.dumps(figures, indent=2)
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(text + "\n")
    click.echo(text)
