"""Test-only Celery entry point: the real worker app with the deterministic RecordingEngine in
place of meta_engine, so fault tests control timing (METIS_TEST_ENGINE_SLOW_S) and do not pay
for training the default model. `METIS_TEST_ENGINE=real` in worker_env uses workers.main."""

from __future__ import annotations

from tests.support import engines
from workers import process as runtime


def _recording(model_path: str | None, device: str, version: str,
               default_dir: object = None) -> engines.RecordingEngine:
    return engines.make(model_path, device, version)


runtime.load_engine = _recording

from workers.main import app  # noqa: E402

__all__ = ["app"]
