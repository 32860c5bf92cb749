"""The Metis student model of one course: `MetisConfig`, `MetisNet` (core + tables), chunks.

The model's formula is in `meta_engine.model.core`; the core there is shared by every course,
the tables (`meta_engine.model.tables`) belong to one course. The fast weights start from the
core's meta-learned initialisation and are adapted by a few gradient steps (or the prototype
method) on the student's strictly earlier answers (see meta_engine.meta.inner).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from meta_engine.model.core import MetisCore
from meta_engine.model.features import N_GLOBAL, SequenceFeatures
from meta_engine.model.tables import TableParams


@dataclass
class MetisConfig:
    """Every option of the model and of meta-training (one place owns them)."""

    n_items: int
    n_skills: int
    max_skills: int = 4
    window: int = 64  # support = at most the last `window` answers before the prediction
    chunk: int = 64  # predictions per training chunk (prefix tasks batched together)
    inner_steps: int = 2
    # metasgd | maml | fomaml | reptile | proto; the default is chosen on the transfer bench
    # (meta/algorithm_comparison.md)
    algo: str = "maml"
    inner_lr: float = 0.1  # initial (metasgd) or fixed (others) inner step size
    hidden: int = 16
    rank: int = 8  # low-rank fast weights shared across related skills (0 = off)
    attn_dim: int = 16  # kept for old configs; the relation attention has `attn_heads`
    attn_items: bool = False  # kept for old configs (no effect)
    attn_heads: int = 4  # heads of the attention by relation over the history (0 = off)
    proto_k: int = 8  # prototypes of the prototype (metric-based) method
    prior_precision: float = 2.0  # Gaussian prior on fast weights for the Laplace interval
    # Multiplies the mastery intervals' half-width; fitted on simulated ground truth
    # (meta_engine.model.intervals.fit_interval_scale). Serving only: no training effect.
    interval_scale: float = 1.0
    l2_item: float = 1e-2
    l2_skill: float = 1e-3
    l2_slope: float = 1e-2
    l2_emb: float = 1e-3
    l2_bias: float = 1e-2
    # Prior sds of a served course's table entries (logits): where online fitting starts.
    prior_sd_bias: float = 1.0
    prior_sd_skill: float = 0.8
    prior_sd_item: float = 1.0
    prior_sd_slope: float = 0.3
    # Cross-course training: probability that a batch hides its course's item residuals, and
    # (separately) its skill relations, as they are at the start of a served course.
    drop_items: float = 0.0
    drop_emb: float = 0.0
    # Share of batches whose table inputs are replaced by what a served course's tables would
    # hold online at that answer (tables.online_difficulties); with it, validation (early
    # stopping) is scored in that regime too: the core is trained to serve new courses.
    online_tables: float = 0.0
    item_lr_scale: float = 1.0  # Adam moves rare items as fast as common ones; slow them
    lr: float = 1e-2
    batch: int = 64
    max_epochs: int = 30
    patience: int = 3
    reptile_eps: float = 0.1
    seed: int = 0
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> MetisConfig:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)


class MetisNet(nn.Module):
    """A model of one course: the transferable core plus that course's trained tables.

    `core` (MetisCore) holds every shared parameter and no id-indexed one; `tables`
    (TableParams) the course's items and skills (n_items = n_skills = 0 for a core on its own,
    as shipped: every course it serves has its tables fitted online). The in-domain model of a
    course is this with tables trained jointly on the course's students.
    """

    def __init__(self, cfg: MetisConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.core = MetisCore(cfg)
        self.tables = TableParams(cfg.n_items, cfg.n_skills, cfg.rank)

    @property
    def calib_a(self) -> torch.Tensor:
        return self.core.calib_a

    @property
    def calib_b(self) -> torch.Tensor:
        return self.core.calib_b

    def calibrate(self, logits: torch.Tensor) -> torch.Tensor:
        return self.core.calibrate(logits)


# -- training chunks -----------------------------------------------------------------------------
@dataclass
class Chunks:
    """Sequences cut into fixed windows: `window` context answers + `chunk` target answers.

    Every target's support (its earlier answers within the window) lies inside its row, so
    all prefix tasks of a batch of rows adapt in one batched computation.
    """

    items: torch.Tensor  # (N, T) long
    skills: torch.Tensor  # (N, T, K) long
    counts: torch.Tensor  # (N, T, K, 2)
    glob: torch.Tensor  # (N, T, G)
    y: torch.Tensor  # (N, T)
    valid: torch.Tensor  # (N, T) bool: a real interaction
    target: torch.Tensor  # (N, T) bool: a real interaction to predict (last `chunk` slots)
    seq_index: np.ndarray  # (N,) which sequence the row came from
    start: np.ndarray  # (N,) position in that sequence of the first target slot
    n_skills: int = 0  # skill ids run 1..n_skills (the width of the skill design)
    # (N, T) difficulty the course's tables would hold online before each answer (see
    # tables.online_difficulties), or None
    online: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.items.shape[0])

    def subset(self, idx: torch.Tensor | np.ndarray) -> Chunks:
        ti = torch.as_tensor(idx, dtype=torch.long)
        ni = np.asarray(idx)
        return Chunks(self.items[ti], self.skills[ti], self.counts[ti], self.glob[ti],
                      self.y[ti], self.valid[ti], self.target[ti], self.seq_index[ni],
                      self.start[ni], self.n_skills,
                      None if self.online is None else self.online[ti])

    def to(self, device: torch.device) -> Chunks:
        return Chunks(self.items.to(device), self.skills.to(device), self.counts.to(device),
                      self.glob.to(device), self.y.to(device), self.valid.to(device),
                      self.target.to(device), self.seq_index, self.start, self.n_skills,
                      None if self.online is None else self.online.to(device))


def make_chunks(feats: list[SequenceFeatures], window: int, chunk: int, max_k: int,
                n_skills: int | None = None, online: list[np.ndarray] | None = None
                ) -> Chunks:
    rows: list[tuple[int, int]] = []
    for si, f in enumerate(feats):
        for start in range(0, len(f.items), chunk):
            rows.append((si, start))
    n, t = len(rows), window + chunk
    items = np.zeros((n, t), dtype=np.int64)
    skills = np.zeros((n, t, max_k), dtype=np.int64)
    counts = np.zeros((n, t, max_k, 2), dtype=np.float32)
    glob = np.zeros((n, t, N_GLOBAL), dtype=np.float32)
    y = np.zeros((n, t), dtype=np.float32)
    valid = np.zeros((n, t), dtype=bool)
    target = np.zeros((n, t), dtype=bool)
    onl = np.zeros((n, t), dtype=np.float32) if online is not None else None
    for r, (si, start) in enumerate(rows):
        f = feats[si]
        lo, hi = max(start - window, 0), min(start + chunk, len(f.items))
        off = window - (start - lo)
        sl = slice(off, off + hi - lo)
        k = min(f.skills.shape[1], max_k)
        items[r, sl] = f.items[lo:hi]
        skills[r, sl, :k] = f.skills[lo:hi, :k]
        counts[r, sl, :k] = f.counts[lo:hi, :k]
        glob[r, sl] = f.glob[lo:hi]
        y[r, sl] = f.correct[lo:hi]
        valid[r, sl] = True
        target[r, window:window + hi - start] = True
        if onl is not None and online is not None:
            onl[r, sl] = online[si][lo:hi]
    return Chunks(torch.from_numpy(items), torch.from_numpy(skills), torch.from_numpy(counts),
                  torch.from_numpy(glob), torch.from_numpy(y), torch.from_numpy(valid),
                  torch.from_numpy(target), np.array([r[0] for r in rows], dtype=np.int64),
                  np.array([r[1] for r in rows], dtype=np.int64),
                  int(skills.max(initial=0)) if n_skills is None else int(n_skills),
                  None if onl is None else torch.from_numpy(onl))
