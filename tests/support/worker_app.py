"""Test-only Celery entry point: the real worker app with the deterministic RecordingEngine in
place of meta_engine, so fault tests control timing (METIS_TEST_ENGINE_SLOW_S) and do not pay
for loading a model. `METIS_TEST_ENGINE=real` in worker_env uses workers.main."""

from __future__ import annotations

from tests.support import engines
from workers import process as runtime

runtime.make_engine = engines.make

from workers.main import app  # noqa: E402

__all__ = ["app"]
