"""What one worker process holds: database, Redis, and the loaded model.

Created in `worker_process_init`, i.e. after the prefork pool has forked, so torch and CUDA are
initialised only in the child that uses them. The active model version is re-checked with one
Redis GET per batch; a promotion is picked up without a restart.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import redis

from lti_tool.core.db import Database
from lti_tool.core.model_versions import (
    ACTIVE_MODEL_KEY,
    DEFAULT_VERSION,
    active_model,
    checkpoint_path,
)
from lti_tool.settings import Settings
from workers.calibration_store import ItemCalibrationStore
from workers.engine_adapter import Engine, MetaEngine, load_engine

log = logging.getLogger("metis.worker")


@dataclass
class Runtime:
    settings: Settings
    db: Database
    redis: redis.Redis
    device: str = "cpu"
    _engine: Engine | None = field(default=None, repr=False)

    def engine(self) -> Engine:
        wanted = self._wanted_version()
        if self._engine is None or self._engine.version != wanted:
            self._engine = self._load(wanted)
        return self._engine

    def _wanted_version(self) -> str:
        try:
            raw = self.redis.get(ACTIVE_MODEL_KEY)
        except redis.RedisError:
            raw = None
        if raw is not None:
            return raw.decode() if isinstance(raw, bytes) else str(raw)
        # Not announced yet (fresh Redis): the database decides, and Redis remembers.
        version = active_model(self.db).version
        self.redis.set(ACTIVE_MODEL_KEY, version)
        return version

    def _load(self, version: str) -> Engine:
        path = checkpoint_path(self.db, version)
        log.info("loading model %s on %s", version, self.device)
        name = version if path else DEFAULT_VERSION
        engine = load_engine(path, self.device, name, default_dir=self.settings.data_dir / "models")
        if isinstance(engine, MetaEngine):  # online item calibration, per model version
            engine.calibration = ItemCalibrationStore(self.redis, name)
        return engine


_current: Runtime | None = None


def init_process(settings: Settings) -> Runtime:
    global _current
    device: str = settings.worker_device
    if device != "cpu":
        from meta_engine.device import resolve_device

        device = str(resolve_device(device))
    _current = Runtime(
        settings=settings,
        db=Database(settings.effective_database_url),
        redis=redis.Redis.from_url(settings.effective_redis_url),
        device=device,
    )
    return _current


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("worker process not initialised (worker_process_init did not run)")
    return _current
