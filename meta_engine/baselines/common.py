"""Flat, vectorised views of a `Dataset` shared by the baselines."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from meta_engine.types import PAD, Dataset


@dataclass
class Flat:
    """All interactions of a dataset concatenated in (student, position) order."""

    seq: np.ndarray  # int64 (N,) sequence index
    pos: np.ndarray  # int64 (N,) 0-based position in its sequence
    items: np.ndarray  # int64 (N,)
    skills: np.ndarray  # int64 (N, K)
    correct: np.ndarray  # int64 (N,)
    lengths: np.ndarray  # int64 (S,)

    @property
    def n(self) -> int:
        return int(self.items.shape[0])

    def split(self, values: np.ndarray) -> list[np.ndarray]:
        """Per-sequence arrays from a flat (N,) array."""
        return [a.astype(np.float64) for a in np.split(values, np.cumsum(self.lengths)[:-1])]

    def skill_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(row, skill) for every non-pad skill of every interaction, row-major."""
        rows = np.repeat(np.arange(self.n), self.skills.shape[1])
        sk = self.skills.reshape(-1)
        keep = sk != PAD
        return rows[keep], sk[keep]


def flatten(ds: Dataset) -> Flat:
    seqs = ds.sequences
    k = max((s.skills.shape[1] for s in seqs), default=1)
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    if not seqs or lengths.sum() == 0:
        z = np.zeros(0, dtype=np.int64)
        return Flat(z, z, z, np.zeros((0, k), dtype=np.int64), z, lengths)
    skills = np.zeros((int(lengths.sum()), k), dtype=np.int64)
    off = 0
    for s in seqs:
        skills[off : off + len(s), : s.skills.shape[1]] = s.skills
        off += len(s)
    return Flat(
        seq=np.repeat(np.arange(len(seqs)), lengths),
        pos=np.concatenate([np.arange(n) for n in lengths]),
        items=np.concatenate([s.items for s in seqs]).astype(np.int64),
        skills=skills,
        correct=np.concatenate([s.correct for s in seqs]).astype(np.int64),
        lengths=lengths,
    )


def prior_counts(group: np.ndarray, order: np.ndarray, values: np.ndarray) -> np.ndarray:
    """For each row, the sum of ``values`` over earlier rows of the same group.

    "Earlier" is by ``order`` (ties are not expected: one row per group per position), and the
    row itself is excluded, so the count only ever uses strictly earlier answers.
    """
    if group.size == 0:
        return np.zeros(0, dtype=np.float64)
    idx = np.lexsort((order, group))
    g, v = group[idx], values[idx].astype(np.float64)
    csum = np.cumsum(v)
    starts = np.ones(g.size, dtype=bool)
    starts[1:] = g[1:] != g[:-1]
    # Total of all groups before this row's group, broadcast to each row of the group.
    start_idx = np.maximum.accumulate(np.where(starts, np.arange(g.size), 0))
    base = csum[start_idx] - v[start_idx]
    out = np.empty_like(csum)
    out[idx] = csum - v - base
    return out


def has_items(ds: Dataset) -> bool:
    """Whether the dataset carries question ids (skill-only data has item 0 everywhere)."""
    return any(bool((s.items != PAD).any()) for s in ds.sequences)
