"""The data directory the real worker processes of the browser tests run with."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def default_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where retrained models would go; the shipped default model loads from the package
    (workers never train one), so a real worker starts with nothing saved here."""
    models = tmp_path_factory.mktemp("data") / "models"
    models.mkdir()
    return models
