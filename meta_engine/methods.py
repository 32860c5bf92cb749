"""What every predictor in the benchmark (Metis and the baselines) implements."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from meta_engine.types import Dataset


class Method(Protocol):
    """A knowledge-tracing method evaluated under the strict protocol.

    `predict` returns, for each sequence of `data`, P(correct) for every interaction, where the
    prediction for interaction t may use only that student's interactions 0..t-1 (and, of
    interaction t itself, only its item and skills, never its answer).
    """

    name: str

    def fit(self, train: Dataset, valid: Dataset) -> None: ...

    def predict(self, data: Dataset) -> list[np.ndarray]: ...
