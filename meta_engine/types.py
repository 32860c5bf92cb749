"""The data contract shared by every part of meta_engine.

Everything downstream (models, baselines, benchmark, workers) speaks in these types, so a
reader for a new log format only has to produce them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Item and skill ids are positive integers; 0 is padding / "unknown" everywhere.
PAD = 0


@dataclass(frozen=True)
class Interaction:
    """One answer, after the strict protocol's merge of repeated rows."""

    item: int  # 0 when the dataset has no question ids (skill-only data)
    skills: tuple[int, ...]
    correct: int  # 1 or 0
    timestamp: float = 0.0


@dataclass
class Sequence:
    """One student's interactions in answer order, as arrays.

    `skills` is (L, K) padded with PAD; K is the largest number of skills of any interaction
    in the dataset it belongs to.
    """

    student: str
    items: np.ndarray  # int64 (L,)
    skills: np.ndarray  # int64 (L, K)
    correct: np.ndarray  # int64 (L,), 0/1
    timestamps: np.ndarray  # float64 (L,)

    def __len__(self) -> int:
        return int(self.items.shape[0])

    def interactions(self) -> list[Interaction]:
        return [
            Interaction(
                int(self.items[i]),
                tuple(int(s) for s in self.skills[i] if s != PAD),
                int(self.correct[i]),
                float(self.timestamps[i]),
            )
            for i in range(len(self))
        ]


@dataclass
class Dataset:
    """A set of student sequences over one item bank.

    `n_items` / `n_skills` are the largest ids that can occur (ids run 1..n). `item_skills`
    maps an item id to its skills where known (needed to place a never-seen item).
    """

    name: str
    sequences: list[Sequence]
    n_items: int
    n_skills: int
    item_skills: dict[int, tuple[int, ...]] = field(default_factory=dict)

    @property
    def n_interactions(self) -> int:
        return sum(len(s) for s in self.sequences)


@dataclass(frozen=True)
class Item:
    """An item of a practice bank."""

    id: int
    skills: tuple[int, ...]
    text: str = ""
    difficulty_prior: float | None = None
