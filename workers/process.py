"""What one worker process holds: database, Redis, the loaded models and the course tables.

Created in `worker_process_init`, i.e. after the prefork pool has forked, so torch and CUDA are
initialised only in the child that uses them. The shipped default model is loaded there, once
(milliseconds: no task ever trains a model), and the process then says it is ready
(`worker_status`). Which model serves which deployment is re-read with one Redis HGETALL per
batch, so a promotion is picked up without a restart; each version is loaded once.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import redis

from lti_tool.core import worker_status
from lti_tool.core.db import Database
from lti_tool.core.model_versions import (
    ACTIVE_MODEL_KEY,
    ALL_DEPLOYMENTS,
    DEFAULT_VERSION,
    announce,
    checkpoint_path,
    field_of,
)
from lti_tool.settings import Settings
from workers.bank_cache import BankCache
from workers.engine_adapter import Engine, MetaEngine, PreparedBanks, course_key

if TYPE_CHECKING:
    from meta_engine.model.serving import Model
    from meta_engine.model.tables import TableStore

log = logging.getLogger("metis.worker")


@dataclass
class Runtime:
    settings: Settings
    db: Database
    redis: redis.Redis
    device: str = "cpu"
    _models: dict[str, Model] = field(default_factory=dict, repr=False)
    _active: dict[str, str] = field(default_factory=dict, repr=False)
    _tables: TableStore | None = field(default=None, repr=False)
    # Kept across batches: the banks read from the database (while their revision stands)
    # and what the engine built from them.
    banks: BankCache[Any] = field(default_factory=BankCache, repr=False)
    prepared: PreparedBanks = field(default_factory=PreparedBanks, repr=False)

    @property
    def name(self) -> str:
        return f"{socket.gethostname()}:{os.getpid()}"

    def default_model(self) -> Model:
        if DEFAULT_VERSION not in self._models:
            from meta_engine.api import default_model

            log.info("loading the shipped default model on %s", self.device)
            self._models[DEFAULT_VERSION] = default_model(self.device)
        return self._models[DEFAULT_VERSION]

    def refresh(self) -> None:
        """Which version serves which deployment, as announced in Redis (the database when
        nothing is announced yet: a fresh Redis)."""
        try:
            raw = self.redis.hgetall(ACTIVE_MODEL_KEY)
        except redis.RedisError:
            return  # keep serving what we served
        if not raw:
            self._active = {ALL_DEPLOYMENTS: DEFAULT_VERSION, **announce(self.db, self.redis)}
            return
        self._active = {(k.decode() if isinstance(k, bytes) else str(k)):
                        (v.decode() if isinstance(v, bytes) else str(v)) for k, v in raw.items()}

    def version_for(self, deployment_id: int | None) -> str:
        return (self._active.get(field_of(deployment_id))
                or self._active.get(ALL_DEPLOYMENTS) or DEFAULT_VERSION)

    def model_for(self, deployment_id: int | None) -> Model:
        """The model that serves `deployment_id`. A model trained on a deployment's own
        answers names its course in its card; it never serves another deployment."""
        version = self.version_for(deployment_id)
        model = self._models.get(version) or self._load(version)
        trained_for = model.card.get("course")
        if trained_for and deployment_id is not None and trained_for != course_key(
                deployment_id):
            log.error("model %s is for %s, not deployment %s: serving the default",
                      version, trained_for, deployment_id)
            return self.default_model()
        return model

    def _load(self, version: str) -> Model:
        path = checkpoint_path(self.db, version)
        if path is None:
            return self.default_model()
        from meta_engine.api import load_model

        log.info("loading model %s on %s", version, self.device)
        model = load_model(path, self.device)
        model.version = version
        self._models[version] = model
        return model

    def tables(self) -> TableStore:
        if self._tables is None:
            from workers.table_store import RedisTableStore

            self._tables = RedisTableStore(self.redis)
        return self._tables

    def engine(self) -> Engine:
        self.refresh()
        return make_engine(self)


def make_engine(rt: Runtime) -> Engine:
    """The engine a batch runs on (the test worker app swaps this for a stand-in)."""
    return MetaEngine(rt.model_for, rt.tables(), rt.default_model().version, rt.prepared)


_current: Runtime | None = None


def init_process(settings: Settings) -> Runtime:
    global _current
    device: str = settings.worker_device
    if device != "cpu":
        from meta_engine.device import resolve_device

        device = str(resolve_device(device))
    rt = Runtime(
        settings=settings,
        db=Database(settings.effective_database_url),
        redis=redis.Redis.from_url(settings.effective_redis_url),
        device=device,
    )
    model = make_ready(rt)
    _current = rt
    log.info("worker ready: model %s on %s", model, device)
    return rt


def make_ready(rt: Runtime) -> str:
    """Load what the first grade event needs before taking one, then say so in Redis."""
    rt.refresh()
    version = make_engine(rt).version
    try:
        worker_status.mark_ready(rt.redis, rt.name, version, rt.device)
    except redis.RedisError:
        log.warning("could not record readiness (Redis unavailable)")
    return version


def shutdown_process() -> None:
    """The process leaves: it no longer claims to be ready."""
    if _current is not None:
        try:
            worker_status.forget(_current.redis, _current.name)
        except redis.RedisError:
            pass


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("worker process not initialised (worker_process_init did not run)")
    return _current
