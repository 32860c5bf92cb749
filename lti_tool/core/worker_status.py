"""Which worker processes are ready to serve grade events, and with which model.

A worker process loads its model when it starts (workers.process) and only then writes its
entry; it renews it with every batch. The health page and `/healthz` read the entries, so
an admin sees "ready: model default on cpu" instead of guessing whether the first answer of the
day will wait for a model to load. Entries expire: a process that died leaves no stale claim.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import redis

from lti_tool.core.redis_keys import WORKER_READY

# Renewed by every batch and kept this long after the last: a worker idle for a day still
# shows (its model stays loaded), a dead one disappears.
TTL_S = 24 * 3600


@dataclass(frozen=True)
class ReadyWorker:
    name: str  # host:pid
    model: str
    device: str
    since: float  # Unix time the model was loaded

    @property
    def loaded_at(self) -> datetime:
        return datetime.fromtimestamp(self.since, UTC)


def mark_ready(client: redis.Redis, name: str, model: str, device: str,
               now: float | None = None) -> None:
    entry = {"name": name, "model": model, "device": device,
             "since": time.time() if now is None else now}
    client.set(WORKER_READY.format(name=name), json.dumps(entry), ex=TTL_S)


def renew(client: redis.Redis, name: str) -> None:
    client.expire(WORKER_READY.format(name=name), TTL_S)


def forget(client: redis.Redis, name: str) -> None:
    client.delete(WORKER_READY.format(name=name))


def ready_workers(client: redis.Redis) -> list[ReadyWorker]:
    out = []
    for key in client.scan_iter(match=WORKER_READY.format(name="*"), count=500):
        raw = client.get(key)
        try:
            d = json.loads(raw) if raw else None
            if d:
                out.append(ReadyWorker(str(d["name"]), str(d["model"]), str(d["device"]),
                                       float(d["since"])))
        except (ValueError, TypeError, KeyError):
            continue
    return sorted(out, key=lambda w: w.name)


def ready_since(client: redis.Redis, since: float) -> list[ReadyWorker]:
    """The ready workers that loaded their model at or after `since` (Unix time): a caller that
    just started a worker must not take a previous run's entry, still in Redis, for its own."""
    return [w for w in ready_workers(client) if w.since >= since]


def wait_until_ready(
    client: redis.Redis,
    timeout_s: float,
    *,
    since: float | None = None,
    keep_waiting: Callable[[], bool] = lambda: True,
    poll_s: float = 0.25,
) -> list[ReadyWorker]:
    """Poll `ready_workers` until one worker (loaded at or after `since`) is ready; returns
    them, or [] when `timeout_s` passed or `keep_waiting()` turned False (e.g. the worker
    process exited). Redis errors count as "not ready yet": the caller decides what a wait
    that ran out means."""
    deadline = time.monotonic() + timeout_s
    while keep_waiting():
        try:
            found = ready_workers(client) if since is None else ready_since(client, since)
        except redis.RedisError:
            found = []
        if found:
            return found
        if time.monotonic() >= deadline:
            break
        # The poll interval only paces the question; readiness itself is the worker's entry.
        time.sleep(min(poll_s, max(0.0, deadline - time.monotonic())))
    return []
