"""The student model the real worker processes of the browser tests load."""

from __future__ import annotations

from pathlib import Path

import pytest

from workers.engine_adapter import DEFAULT_CHECKPOINT


@pytest.fixture(scope="module")
def default_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default model, trained once here so the worker loads it instead of training."""
    from meta_engine import api

    models = tmp_path_factory.mktemp("data") / "models"
    api.save_model(api.default_model(), str(models / DEFAULT_CHECKPOINT))
    return models
