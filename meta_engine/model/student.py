"""The Metis student model: shared (meta-learned) parts plus a small per-student fast set.

logit(student s answers item i with skills S at time t) =
    base_t                               shared: - (mean skill difficulty + item residual)
                                         + per-skill weighted log win/fail counts (Best-LR/PFA)
                                         + linear + tiny MLP on the history features
  + theta_s + mean_{k in S} alpha_s[k]   per-student fast weights (ability + skill offsets)

The fast weights start from a meta-learned initialisation (theta0, alpha0) and are adapted by
a few gradient steps with per-parameter step sizes (meta-learned by Meta-SGD), on the student's
strictly earlier answers (see meta_engine.meta.inner). Item difficulty = mean of its skills'
difficulties + an item residual, so a never-seen item (residual 0, or its difficulty_prior) is
placed from its skills.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from meta_engine.model.features import N_GLOBAL, SequenceFeatures


@dataclass
class MetisConfig:
    """Every option of the model and of meta-training (one place owns them)."""

    n_items: int
    n_skills: int
    max_skills: int = 4
    window: int = 64  # support = at most the last `window` answers before the prediction
    chunk: int = 64  # predictions per training chunk (prefix tasks batched together)
    inner_steps: int = 2
    # metasgd | maml | fomaml | reptile; default = best valid AUC in meta/algorithm_comparison.json
    algo: str = "maml"
    inner_lr: float = 0.1  # initial (metasgd) or fixed (others) inner step size
    hidden: int = 16
    rank: int = 8  # low-rank fast weights shared across related skills (0 = off)
    attn_dim: int = 16  # small attention over the windowed history (0 = off)
    attn_items: bool = False  # item difficulty modulates the attention (tried: no gain)
    prior_precision: float = 2.0  # Gaussian prior on fast weights for the Laplace interval
    # Multiplies the mastery intervals' half-width; fitted on simulated ground truth
    # (meta_engine.model.intervals.fit_interval_scale). Serving only: no training effect.
    interval_scale: float = 1.0
    l2_item: float = 1e-2
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
    """Shared parameters + meta-learned initialisation and step sizes of the fast weights."""

    calib_a: torch.Tensor
    calib_b: torch.Tensor

    def __init__(self, cfg: MetisConfig) -> None:
        super().__init__()
        self.cfg = cfg
        s1 = cfg.n_skills + 1
        self.item_res = nn.Parameter(torch.zeros(cfg.n_items + 1))
        self.skill_diff = nn.Parameter(torch.zeros(s1))
        self.w_counts = nn.Parameter(torch.tensor([[0.3, -0.3]]).repeat(s1, 1))
        self.glob = nn.Linear(N_GLOBAL, 1)
        mlp_out = nn.Linear(cfg.hidden, 1)
        nn.init.zeros_(mlp_out.weight)  # starts as the linear model; the MLP adds what it finds
        self.mlp = nn.Sequential(nn.Linear(N_GLOBAL, cfg.hidden), nn.Tanh(), mlp_out)
        # Meta-learned initialisation of the fast weights.
        # Fast weights: ability theta, per-skill offsets and a rank-r code u whose effect on
        # skill k is skill_emb[k] . u, so evidence on one skill moves related skills too.
        # Both offsets are stored together as "alpha" over the design of `design()`.
        self.skill_emb = nn.Parameter(0.1 * torch.randn(s1, cfg.rank))
        self.theta0 = nn.Parameter(torch.zeros(1))
        self.alpha0 = nn.Parameter(torch.zeros(s1 + cfg.rank))
        # Per-parameter inner step sizes (log scale keeps them positive). Only Meta-SGD
        # trains them; MAML/FOMAML/Reptile keep the fixed initial value.
        lr = float(np.log(cfg.inner_lr))
        self.log_lr_theta = nn.Parameter(torch.full((1,), lr))
        self.log_lr_alpha = nn.Parameter(torch.full((s1 + cfg.rank,), lr))
        # Support answers are weighted exp(-decay * age): older answers say less about now.
        self.decay_raw = nn.Parameter(torch.tensor(-2.0))
        self.log_lr_theta.requires_grad_(cfg.algo == "metasgd")
        self.log_lr_alpha.requires_grad_(cfg.algo == "metasgd")
        # A small attention over the student's recent answers (shared, meta-learned): the
        # target's skills query the earlier answers' skills; values carry their correctness.
        d = max(cfg.attn_dim, 1)
        self.att_q = nn.Parameter(0.1 * torch.randn(s1, d))
        self.att_k = nn.Parameter(0.1 * torch.randn(s1, d))
        self.att_v = nn.Parameter(0.1 * torch.randn(s1, d))
        self.att_y = nn.Parameter(0.1 * torch.randn(2, d))
        self.att_var = nn.Parameter(torch.zeros(3, d))  # query/key/value per unit difficulty
        self.att_decay_raw = nn.Parameter(torch.tensor(-2.0))
        self.att_out = nn.Linear(2 * d, 1)
        nn.init.zeros_(self.att_out.weight)
        nn.init.zeros_(self.att_out.bias)
        # Platt calibration fitted on the validation fold after meta-training.
        self.register_buffer("calib_a", torch.ones(()))
        self.register_buffer("calib_b", torch.zeros(()))

    # -- shared part --------------------------------------------------------------------------
    def base_logits(
        self, items: torch.Tensor, skills: torch.Tensor, counts: torch.Tensor,
        glob: torch.Tensor, item_prior: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Shared logit of each interaction: items (...), skills (..., K), counts (..., K, 2)."""
        valid = (skills > 0).to(glob.dtype)
        m = valid.sum(-1).clamp(min=1.0)
        per_skill = (self.w_counts[skills] * counts).sum(-1) - self.skill_diff[skills]
        skill_part = (per_skill * valid).sum(-1) / m
        known = (items > 0) & (items <= self.cfg.n_items)
        res = torch.where(known, self.item_res[items.clamp(0, self.cfg.n_items)],
                          torch.zeros((), dtype=glob.dtype, device=glob.device))
        if item_prior is not None:
            # A bank's difficulty prior replaces the learned residual where given (not NaN).
            res = torch.where(torch.isnan(item_prior), res, item_prior)
        g = self.glob(glob).squeeze(-1) + self.mlp(glob).squeeze(-1)
        return skill_part - res + g

    def skill_onehot(self, skills: torch.Tensor) -> torch.Tensor:
        """(..., K) skill ids -> (..., S+1) weights 1/|S| on the item's skills (pad column 0)."""
        valid = (skills > 0).to(torch.get_default_dtype())
        w = valid / valid.sum(-1, keepdim=True).clamp(min=1.0)
        q = torch.zeros(*skills.shape[:-1], self.cfg.n_skills + 1, dtype=w.dtype,
                        device=skills.device)
        return q.scatter_add_(-1, skills, w)

    def design(self, skills: torch.Tensor) -> torch.Tensor:
        """(..., K) skill ids -> (..., S+1+r): the inputs the fast "alpha" multiplies."""
        q = self.skill_onehot(skills)
        return torch.cat([q, q @ self.skill_emb], dim=-1)

    def _skill_mean(self, table: torch.Tensor, skills: torch.Tensor) -> torch.Tensor:
        valid = (skills > 0).to(table.dtype).unsqueeze(-1)
        return (table[skills] * valid).sum(-2) / valid.sum(-2).clamp(min=1.0)

    def item_difficulty_residual(self, items: torch.Tensor) -> torch.Tensor:
        known = (items > 0) & (items <= self.cfg.n_items)
        return torch.where(known, self.item_res[items.clamp(0, self.cfg.n_items)],
                           torch.zeros((), device=items.device))

    def attention(self, skills_t: torch.Tensor, skills_h: torch.Tensor, y_h: torch.Tensor,
                  age: torch.Tensor, mask: torch.Tensor, items_t: torch.Tensor | None = None,
                  items_h: torch.Tensor | None = None) -> torch.Tensor:
        """Attention term of each target: skills_t (..., C, K) over history skills_h
        (..., T, K) with answers y_h (..., T); age/mask (..., C, T). Returns (..., C); 0 for a
        target with an empty history. Only answers where mask is True (strictly earlier) count.
        """
        if self.cfg.attn_dim <= 0:
            return torch.zeros(skills_t.shape[:-1], device=skills_t.device)
        q = self._skill_mean(self.att_q, skills_t)
        k = self._skill_mean(self.att_k, skills_h)
        v = self._skill_mean(self.att_v, skills_h) + self.att_y[y_h.long()]
        if self.cfg.attn_items and items_t is not None and items_h is not None:
            # Rasch-style: an item's residual difficulty shifts its query/key/value, so a
            # right answer on a hard question says more than one on an easy question.
            rt = self.item_difficulty_residual(items_t).unsqueeze(-1)
            rh = self.item_difficulty_residual(items_h).unsqueeze(-1)
            q = q + rt * self.att_var[0]
            k = k + rh * self.att_var[1]
            v = v + rh * (2 * y_h.unsqueeze(-1) - 1) * self.att_var[2]
        score = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
        score = score - nn.functional.softplus(self.att_decay_raw) * age
        score = score.masked_fill(~mask, -1e9)
        a = torch.softmax(score, dim=-1) * mask.any(-1, keepdim=True)
        r = a @ v
        return self.att_out(torch.cat([r, r * q], dim=-1)).squeeze(-1)

    # -- fast-weight hyper-parameters -----------------------------------------------------------
    def init_fast(self) -> dict[str, torch.Tensor]:
        return {"theta": self.theta0, "alpha": self.alpha0}

    def inner_lrs(self) -> dict[str, torch.Tensor]:
        return {"theta": self.log_lr_theta.exp(), "alpha": self.log_lr_alpha.exp()}

    def decay(self) -> torch.Tensor:
        return nn.functional.softplus(self.decay_raw)

    def calibrate(self, logits: torch.Tensor) -> torch.Tensor:
        return self.calib_a * logits + self.calib_b


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

    def __len__(self) -> int:
        return int(self.items.shape[0])

    def subset(self, idx: torch.Tensor | np.ndarray) -> Chunks:
        ti = torch.as_tensor(idx, dtype=torch.long)
        ni = np.asarray(idx)
        return Chunks(self.items[ti], self.skills[ti], self.counts[ti], self.glob[ti],
                      self.y[ti], self.valid[ti], self.target[ti], self.seq_index[ni],
                      self.start[ni])

    def to(self, device: torch.device) -> Chunks:
        return Chunks(self.items.to(device), self.skills.to(device), self.counts.to(device),
                      self.glob.to(device), self.y.to(device), self.valid.to(device),
                      self.target.to(device), self.seq_index, self.start)


def make_chunks(feats: list[SequenceFeatures], window: int, chunk: int, max_k: int) -> Chunks:
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
    return Chunks(torch.from_numpy(items), torch.from_numpy(skills), torch.from_numpy(counts),
                  torch.from_numpy(glob), torch.from_numpy(y), torch.from_numpy(valid),
                  torch.from_numpy(target), np.array([r[0] for r in rows], dtype=np.int64),
                  np.array([r[1] for r in rows], dtype=np.int64))
