"""`metis bench pipeline`: answer -> Redis -> worker -> new set on the page's event stream, end
to end over HTTPS, with real LTI launches, measured from the answer POST to the SSE delivery.

Processes: Redis (private unless --redis-url), Metis under gunicorn, the demo LMS under gunicorn
(with S extra learners), W Celery workers running the real meta_engine default model (trained
once and kept in the data directory). Stage costs come from the answer's Server-Timing header
(grade + store + enqueue), the worker's per-event Redis hash (queue wait, batch load, engine,
store, publish) and the PracticeSet row (adapt and select per student).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import subprocess
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import click
import redis
from sqlalchemy import func, select

from lti_tool.core.db import Database
from lti_tool.core.db.models import EventStatus, GradeEvent, PracticeSet
from lti_tool.devkit.demo.platform_wsgi import extra_learner
from lti_tool.devkit.demo.runner import DemoOptions, prepare
from lti_tool.devkit.embedded import PostgresServer, RedisServer, free_port, wait_for_port
from lti_tool.devkit.fresh_db import fresh_database
from lti_tool.process_argv import WEB_APP, gunicorn_argv, worker_argv
from lti_tool.settings import Settings
from lti_tool.task_queue import create_celery
from workers.bench import flow as bench_flow
from workers.pipeline import TIMINGS_KEY


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]

    return {"p50": round(pick(0.50), 3), "p95": round(pick(0.95), 3),
            "p99": round(pick(0.99), 3), "mean": round(statistics.fmean(ordered), 3),
            "max": round(ordered[-1], 3), "n": len(ordered)}


class Children:
    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        with (self.logs / f"{name}.log").open("ab") as log:
            self.procs[name] = subprocess.Popen(argv, env=env, stdout=log,
                                                stderr=subprocess.STDOUT)

    def check(self) -> None:
        for name, p in self.procs.items():
            if p.poll() is not None:
                raise click.ClickException(f"{name} exited; see {self.logs}/{name}.log")

    def stop(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def wait_workers_ready(settings: Settings, n: int, timeout: float = 120.0) -> None:
    app = create_celery(settings)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            replies = app.control.ping(timeout=1.0) or []
            if len(replies) >= n:
                return
        raise click.ClickException(f"{n} worker(s) did not come up in {timeout:.0f} s")
    finally:
        app.close()


class Run:
    """The measured part: S students, N answers at R per second, SSE deliveries."""

    def __init__(self, students: list[bench_flow.Student], seed: int) -> None:
        self.students = {s.uid: s for s in students}
        self.rng = random.Random(seed)
        self.deliveries: dict[str, float] = {}
        self.delivered_by: dict[str, list[tuple[str, float]]] = {s.uid: [] for s in students}
        self.lock = threading.Lock()
        self.streams = [bench_flow.Stream(s, self.on_set) for s in students]
        self.all_posted: list[bench_flow.Posted] = []

    def on_set(self, uid: str, event_id: str, at: float) -> None:
        with self.lock:
            self.deliveries.setdefault(event_id, at)
            self.delivered_by[uid].append((event_id, at))

    def choose(self, items: list[int]) -> tuple[int, str]:
        # Options 0 and 1 exist on every multiple-choice question; "1" also answers numeric
        # and short-text ones (usually wrongly, which is fine here).
        return self.rng.choice(items), self.rng.choice(["0", "1"])

    def fire(self, n_events: int, rate: float, pool: ThreadPoolExecutor) -> list[bench_flow.Posted]:
        order = list(self.students.values())
        start = time.perf_counter()
        futures: list[Future[bench_flow.Posted]] = []
        for k in range(n_events):
            due = start + k / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(bench_flow.answer, order[k % len(order)], self.choose))
        return [f.result() for f in futures]

    def wait_delivered(self, posted: list[bench_flow.Posted], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.latency(p) is not None for p in posted if p.event_id):
                return
            time.sleep(0.05)

    def latency(self, p: bench_flow.Posted) -> tuple[float, bool] | None:
        """(ms from POST to the set on the stream, coalesced?). A set computed for a later
        answer of the same student also answers this one (the page shows only the newest)."""
        with self.lock:
            at = self.deliveries.get(p.event_id)
            if at is not None:
                return (at - p.t_post) * 1000, False
            later = [t for _, t in self.delivered_by[p.uid] if t > p.t_post]
        if later and self._has_newer_answer(p):
            return (min(later) - p.t_post) * 1000, True
        return None

    def _has_newer_answer(self, p: bench_flow.Posted) -> bool:
        return any(q.uid == p.uid and q.t_post > p.t_post for q in self.all_posted)


def stage_costs(client: redis.Redis, db: Database,
                posted: list[bench_flow.Posted]) -> dict[str, Any]:
    """Where the time went, per event: web (Server-Timing), queue, worker stages."""
    stages: dict[str, list[float]] = {k: [] for k in (
        "http_post_round_trip", "web_grade_store_enqueue", "queue_wait", "batch_load",
        "adapt_per_student", "select_per_student", "engine_batch", "store_batch",
        "publish_batch")}
    batches: list[float] = []
    for p in posted:
        if not p.event_id:
            continue
        stages["http_post_round_trip"].append(p.http_ms)
        if p.submit_ms is not None:
            stages["web_grade_store_enqueue"].append(p.submit_ms)
        stored: dict[bytes, bytes] = client.hgetall(TIMINGS_KEY.format(event=p.event_id))  # type: ignore[assignment]
        raw = {k.decode(): float(v) for k, v in stored.items()}
        if raw:
            sent = p.epoch_post + (p.submit_ms or 0.0) / 1000
            stages["queue_wait"].append(max(0.0, (raw["started_at"] - sent) * 1000))
            stages["batch_load"].append(raw.get("load", 0.0))
            stages["engine_batch"].append(raw.get("engine", 0.0))
            stages["store_batch"].append(raw.get("store", 0.0))
            stages["publish_batch"].append(raw.get("publish", 0.0))
            batches.append(raw.get("batch", 1.0))
        if "event_predict_update" in raw:
            stages["adapt_per_student"].append(raw["event_predict_update"])
        if "event_plan" in raw:
            stages["select_per_student"].append(raw["event_plan"])
    out: dict[str, Any] = {k: percentiles(v) for k, v in stages.items()}
    out["batch_size"] = percentiles(batches)
    return out


def counts(db: Database, posted: list[bench_flow.Posted], run: Run) -> dict[str, Any]:
    ids = [p.event_id for p in posted if p.event_id]
    with db.session() as s:
        in_db = s.scalar(select(func.count()).select_from(GradeEvent)
                         .where(GradeEvent.event_id.in_(ids))) or 0
        processed = s.scalar(select(func.count()).select_from(GradeEvent).where(
            GradeEvent.event_id.in_(ids), GradeEvent.status == EventStatus.processed)) or 0
        sets = s.scalar(select(func.count()).select_from(PracticeSet)
                        .where(PracticeSet.event_id.in_(ids))) or 0
        distinct = s.scalar(select(func.count(func.distinct(PracticeSet.event_id)))
                            .where(PracticeSet.event_id.in_(ids))) or 0
    results = [run.latency(p) for p in posted if p.event_id]
    return {
        "posted": len(posted),
        "refused": sum(1 for p in posted if p.status != 202),
        "refused_by_status": {str(c): sum(1 for p in posted if p.status == c)
                              for c in sorted({p.status for p in posted} - {202})},
        "accepted_202": len(ids),
        "events_in_db": int(in_db),
        "events_processed": int(processed),
        "practice_sets": int(sets),
        "lost": len(ids) - int(in_db),  # accepted answers missing from the database
        "unprocessed": int(in_db) - int(processed),
        "duplicates": int(sets) - int(distinct),
        "delivered_on_stream": sum(1 for r in results if r is not None and not r[1]),
        "coalesced_into_a_newer_set": sum(1 for r in results if r is not None and r[1]),
        "not_delivered": sum(1 for r in results if r is None),
    }


@click.command("pipeline")
@click.option("--students", "n_students", default=20, show_default=True,
              type=click.IntRange(1, 500))
@click.option("--events", "n_events", default=200, show_default=True,
              type=click.IntRange(1, 1_000_000))
@click.option("--rate", default=20.0, show_default=True, type=click.FloatRange(0.1, 10_000),
              help="answers per second, fired at a fixed rate")
@click.option("--workers", "n_workers", default=1, show_default=True,
              type=click.IntRange(1, 64), help="adapt worker processes (plus one for passback)")
@click.option("--redis-url", default="", help="use this Redis instead of a private one")
@click.option("--data-dir", default=Path("var/bench-pipeline"), show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="database, certificates and logs")
@click.option("--store", type=click.Choice(["sqlite", "postgresql"]), default="sqlite",
              show_default=True, help="postgresql: a private PostgreSQL cluster started here")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="write the figures here as JSON")
def pipeline(n_students: int, n_events: int, rate: float, n_workers: int, redis_url: str,
             data_dir: Path, store: str, json_out: Path | None) -> None:
    """Answer -> new practice set on the page: latency, throughput, counts, stage costs."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    for stale in data_dir.glob("metis.db*"):
        stale.unlink()  # a fresh database per run
    shutil.rmtree(data_dir / "logs", ignore_errors=True)
    (data_dir / "logs").mkdir()
    own_redis = None if redis_url else RedisServer().start()
    url = redis_url or (own_redis.url if own_redis else "")
    children = Children(data_dir / "logs")
    pg = PostgresServer().start() if store == "postgresql" else None
    try:
        database_url = fresh_database(pg.url, "pipeline") if pg is not None else ""
        options = DemoOptions(free_port(), free_port(), data_dir, worker=False,
                              database_url=database_url)
        settings, env, _activity = prepare(options, url)
        env = {**env, "METIS_DEMO_EXTRA_LEARNERS": str(n_students), "METIS_THREADS": "1",
               "OMP_NUM_THREADS": "1"}
        cert, key = data_dir / "tls" / "cert.pem", data_dir / "tls" / "key.pem"
        threads = max(16, n_students + 8)  # every open event stream holds a thread
        children.spawn("metis", gunicorn_argv(WEB_APP,
                                              f"127.0.0.1:{options.port}", workers=2,
                                              threads=threads, cert=cert, key=key), env)
        children.spawn("platform", gunicorn_argv("lti_tool.devkit.demo.platform_wsgi:create()",
                                                 f"127.0.0.1:{options.platform_port}",
                                                 workers=1, threads=16, cert=cert, key=key), env)
        started = time.perf_counter()
        # Score posts wait on the LMS; on their own worker they never delay an adapt batch.
        for n in range(n_workers):
            children.spawn(f"adapt{n}", worker_argv("adapt", name=f"adapt{n}", quiet=True), env)
        children.spawn("passback", worker_argv("passback", name="passback", quiet=True), env)
        for port in (options.port, options.platform_port):
            wait_for_port(port, timeout=60)
        wait_workers_ready(settings, n_workers + 1)
        ready_s = time.perf_counter() - started
        children.check()
        figures = measure(settings.base_url, f"https://localhost:{options.platform_port}",
                          env["REQUESTS_CA_BUNDLE"], settings.effective_database_url, url,
                          n_students, n_events, rate)
        # A fresh install: a new database, processes just started, their model loaded at
        # start; the first answer is the run's first warm-up answer.
        figures["fresh_install"] = {"processes_ready_s": round(ready_s, 2),
                                    **figures.pop("first_answer")}
        figures["config"] = {"students": n_students, "events": n_events, "rate": rate,
                             "workers": n_workers, "web": "gunicorn gthread 2 workers",
                             "store": store,
                             "cpus": os.cpu_count(), "batch_max": settings.adapt_batch_max,
                             "batch_wait_ms": settings.adapt_batch_wait_ms}
    finally:
        children.stop()
        if own_redis is not None:
            own_redis.stop()
        if pg is not None:
            pg.stop()
    text = json.dumps(figures, indent=2)
    if json_out:
        json_out.write_text(text + "\n")
    click.echo(text)


def measure(metis_url: str, platform_url: str, verify: str, database_url: str, redis_url: str,
            n_students: int, n_events: int, rate: float) -> dict[str, Any]:
    link = bench_flow.link_of(platform_url, verify)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        students = list(pool.map(
            lambda n: bench_flow.launch(platform_url, metis_url, extra_learner(n), link, verify),
            range(n_students)))
    launch_s = time.perf_counter() - t0
    run = Run(students, seed=7)
    for stream in run.streams:
        stream.start()
    for stream in run.streams:
        stream.connected.wait(10)
    db = Database(database_url)
    client = redis.Redis.from_url(redis_url)
    try:
        with ThreadPoolExecutor(max_workers=min(64, max(8, int(rate // 4)))) as pool:
            # Warm-up: every worker loads its model on its first batch.
            warm = run.fire(min(len(students), 10), 5.0, pool)
            run.all_posted = list(warm)
            run.wait_delivered(warm, timeout=60)
            first = run.latency(warm[0]) if warm and warm[0].event_id else None
            t_start = time.perf_counter()
            posted = run.fire(n_events, rate, pool)
            run.all_posted = run.all_posted + posted
        run.wait_delivered(posted, timeout=60)
        results = [(p, run.latency(p)) for p in posted if p.event_id]
        latencies = [r[0] for _, r in results if r is not None]
        last = max((p.t_post + r[0] / 1000 for p, r in results if r is not None),
                   default=t_start)
        done = sum(1 for _, r in results if r is not None)
        figures: dict[str, Any] = {
            "latency_ms_post_to_sse": percentiles(latencies),
            "latency_ms_own_set_only": percentiles(
                [r[0] for _, r in results if r is not None and not r[1]]),
            "sustained_events_per_s": round(done / max(last - t_start, 1e-9), 2),
            "offered_events_per_s": rate,
            "counts": counts(db, posted, run),
            "stages_ms": stage_costs(client, db, posted),
            "launches": {"students": n_students, "seconds": round(launch_s, 2)},
            "first_answer": {"first_answer_to_set_ms": first[0] if first else None},
        }
    finally:
        for stream in run.streams:
            stream.stopped.set()
        db.dispose()
        client.close()
    return figures
