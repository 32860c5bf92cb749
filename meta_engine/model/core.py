"""The transferable core of the Metis student model: no parameter knows an item or skill id.

    logit(student s answers item i with skills S) =
        - difficulty(i, S)                       course tables: bias + mean_{k in S} d_k + b_i
        + mean_{k in S} (w0 + delta_k) . [log(1+wins_k), log(1+fails_k)]
                                                 w0 core (how evidence on a skill moves the
                                                 student), delta_k a course table (per skill)
        + linear + tiny MLP on the history features (recency, last answers, decayed rates, ...)
        + attention over the student's recent answers by RELATION to the target: share a skill,
          same item, related skill (cosine of the course's skill embeddings, 0 when unknown),
          time gap, correctness; never by id
        + theta + alpha_S . design(S)             fast weights of the student: ability, offsets
                                                 on the course's skills, a rank-r code acting
                                                 through the course's skill embeddings
    and P(correct) = sigmoid(calib_a * logit + calib_b) (Platt calibration, core).

Everything with an item or skill index (`d_k`, `b_i`, `delta_k`, skill embeddings, the course
bias) lives in per-course tables (`meta_engine.model.tables`): parameters when a course is
trained jointly with the core, online Gaussian estimates when a course is served that the core
never saw. The fast-weight initialisation and inner step sizes are shared scalars (one for the
ability, one for every skill offset, one per rank dimension), so they transfer to any course.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from meta_engine.model.features import N_GLOBAL

# Relation features of a (target, earlier answer) pair for the history attention.
PAIR_FEATURES = ("bias", "skill_overlap", "shares_skill", "same_item", "related_skill",
                 "log_age")
N_PAIR = len(PAIR_FEATURES)
N_LEARNER = 3  # learner summary for the prototype method: residual, log weight, success rate
N_SKILL_SUMMARY = 2  # per-skill summary: residual, log weight


@dataclass
class TableInputs:
    """What the course tables contribute to each interaction (any leading shape `...`).

    diff  (...,)        bias + mean skill difficulty + item residual (harder = larger)
    slope (..., K, 2)   per-skill offsets of the count weights (0 where unknown)
    emb   (..., r)      mean skill embedding of the item's skills (0 where unknown)
    """

    diff: torch.Tensor
    slope: torch.Tensor
    emb: torch.Tensor


def skill_onehot(skills: torch.Tensor, n_skills: int, dtype: torch.dtype = torch.float32
                 ) -> torch.Tensor:
    """(..., K) dense skill ids (0 = pad) -> (..., S+1) weights 1/|S| on the item's skills."""
    valid = ((skills > 0) & (skills <= n_skills)).to(dtype)
    w = valid / valid.sum(-1, keepdim=True).clamp(min=1.0)
    q = torch.zeros(*skills.shape[:-1], n_skills + 1, dtype=dtype, device=skills.device)
    return q.scatter_add_(-1, skills.clamp(0, n_skills) * (skills <= n_skills), w)


class MetisCore(nn.Module):
    """The shared, meta-learned parameters. Shapes depend only on the config's sizes (hidden,
    rank, heads, prototypes), never on a course's numbers of items or skills (tested)."""

    calib_a: torch.Tensor
    calib_b: torch.Tensor

    def __init__(self, cfg) -> None:  # cfg: MetisConfig (no import cycle with student.py)
        super().__init__()
        self.cfg = cfg
        r, h = cfg.rank, max(cfg.attn_heads, 1)
        self.w0 = nn.Parameter(torch.tensor([0.3, -0.3]))
        self.glob = nn.Linear(N_GLOBAL, 1)
        mlp_out = nn.Linear(cfg.hidden, 1)
        nn.init.zeros_(mlp_out.weight)  # starts as the linear model; the MLP adds what it finds
        self.mlp = nn.Sequential(nn.Linear(N_GLOBAL, cfg.hidden), nn.Tanh(), mlp_out)
        # Fast weights: initialisation (one value per kind) and inner step sizes (log scale;
        # only Meta-SGD trains them).
        self.theta0 = nn.Parameter(torch.zeros(1))
        self.alpha0 = nn.Parameter(torch.zeros(1))
        self.u0 = nn.Parameter(torch.zeros(r))
        lr = float(np.log(cfg.inner_lr))
        self.log_lr_theta = nn.Parameter(torch.full((1,), lr))
        self.log_lr_alpha = nn.Parameter(torch.full((1,), lr))
        self.log_lr_u = nn.Parameter(torch.full((r,), lr))
        for p in (self.log_lr_theta, self.log_lr_alpha, self.log_lr_u):
            p.requires_grad_(cfg.algo == "metasgd")
        # Support answers are weighted exp(-decay * age): older answers say less about now.
        self.decay_raw = nn.Parameter(torch.tensor(-2.0))
        # Relation attention: per head a linear score and value over the pair features.
        self.att_score = nn.Parameter(0.1 * torch.randn(h, N_PAIR))
        self.att_null = nn.Parameter(torch.zeros(h))  # "nothing relevant" slot
        self.att_val = nn.Parameter(0.1 * torch.randn(h, N_PAIR))  # times (2y - 1)
        self.att_val_y = nn.Parameter(torch.zeros(h, N_PAIR))  # independent of the answer
        self.att_decay_raw = nn.Parameter(torch.full((h,), -2.0))
        self.att_out = nn.Linear(h, 1)
        nn.init.zeros_(self.att_out.weight)
        nn.init.zeros_(self.att_out.bias)
        # Prototype (metric-based) adaptation: learner types and learner-on-a-skill types.
        k = max(cfg.proto_k, 1)
        self.proto_keys = nn.Parameter(0.5 * torch.randn(k, N_LEARNER))
        self.proto_theta = nn.Parameter(torch.zeros(k))
        self.proto_skill_keys = nn.Parameter(0.5 * torch.randn(k, N_SKILL_SUMMARY))
        self.proto_alpha = nn.Parameter(torch.zeros(k))
        self.proto_log_temp = nn.Parameter(torch.zeros(2))
        self.register_buffer("calib_a", torch.ones(()))
        self.register_buffer("calib_b", torch.zeros(()))

    # -- shared logit ---------------------------------------------------------------------------
    def base_logits(self, tab: TableInputs, counts: torch.Tensor, skills: torch.Tensor,
                    glob: torch.Tensor) -> torch.Tensor:
        """Shared logit of each interaction: counts (..., K, 2), skills (..., K) (0 = pad)."""
        valid = (skills > 0).to(glob.dtype)
        m = valid.sum(-1).clamp(min=1.0)
        per = ((self.w0 + tab.slope) * counts).sum(-1) * valid
        g = self.glob(glob).squeeze(-1) + self.mlp(glob).squeeze(-1)
        return per.sum(-1) / m - tab.diff + g

    def design(self, onehot: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        """(..., S+1) skill weights and (..., r) mean skill embedding -> what alpha multiplies."""
        return torch.cat([onehot, emb], dim=-1)

    def init_fast(self, n_skills: int) -> dict[str, torch.Tensor]:
        return {"theta": self.theta0,
                "alpha": torch.cat([self.alpha0.expand(n_skills + 1), self.u0])}

    def inner_lrs(self, n_skills: int) -> dict[str, torch.Tensor]:
        return {"theta": self.log_lr_theta.exp(),
                "alpha": torch.cat([self.log_lr_alpha.exp().expand(n_skills + 1),
                                    self.log_lr_u.exp()])}

    def alpha_unseen(self) -> float:
        """The fast offset of a skill the student never answered (the prototype method maps
        an empty per-skill summary through its prototypes as well)."""
        if self.cfg.algo != "proto":
            return float(self.alpha0.detach())
        with torch.no_grad():
            d = (self.proto_skill_keys ** 2).sum(-1)
            t2 = self.proto_log_temp.exp()[1]
            return float((self.alpha0 + torch.softmax(-t2 * d, dim=-1) @ self.proto_alpha).item())

    def decay(self) -> torch.Tensor:
        return nn.functional.softplus(self.decay_raw)

    def calibrate(self, logits: torch.Tensor) -> torch.Tensor:
        return self.calib_a * logits + self.calib_b

    # -- attention by relation ------------------------------------------------------------------
    def attention(self, onehot_t: torch.Tensor, onehot_h: torch.Tensor, items_t: torch.Tensor,
                  items_h: torch.Tensor, emb_t: torch.Tensor, emb_h: torch.Tensor,
                  y_h: torch.Tensor, age: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Attention term of each target over earlier answers.

        onehot_t (..., C, S+1), onehot_h (..., T, S+1) skill weights; items (..., C)/(..., T)
        (0 = no item id); emb (..., C, r)/(..., T, r); y_h (..., T); age and mask (..., C, T):
        only answers where mask is True (strictly earlier) count. Returns (..., C).
        """
        if self.cfg.attn_heads <= 0:
            return torch.zeros(onehot_t.shape[:-1], device=onehot_t.device)
        dt = onehot_t.dtype
        ind_h = (onehot_h > 0).to(dt)
        overlap = onehot_t @ ind_h.transpose(-1, -2)  # share of the target's skills seen at j
        same = ((items_t.unsqueeze(-1) == items_h.unsqueeze(-2))
                & (items_t > 0).unsqueeze(-1)).to(dt)
        nt = emb_t / emb_t.norm(dim=-1, keepdim=True).clamp(min=1e-6)
        nh = emb_h / emb_h.norm(dim=-1, keepdim=True).clamp(min=1e-6)
        rel = nt @ nh.transpose(-1, -2)
        age = age.to(dt).expand_as(overlap)
        mask = mask.expand_as(overlap)
        feats = torch.stack([torch.ones_like(overlap), overlap, (overlap > 0).to(dt), same, rel,
                             torch.log1p(age)], dim=-1)  # (..., C, T, F)
        score = feats @ self.att_score.T - nn.functional.softplus(self.att_decay_raw) * \
            age.unsqueeze(-1)
        score = score.masked_fill(~mask.unsqueeze(-1), -1e9)
        null = self.att_null.expand(*score.shape[:-2], 1, score.shape[-1])
        a = torch.softmax(torch.cat([score, null], dim=-2), dim=-2)[..., :-1, :]
        sign = (2.0 * y_h.to(dt) - 1.0).unsqueeze(-2).unsqueeze(-1)  # (..., 1, T, 1)
        val = (feats @ self.att_val.T) * sign + feats @ self.att_val_y.T
        r = (a * val * mask.unsqueeze(-1).to(dt)).sum(-2)  # (..., C, H)
        return self.att_out(r).squeeze(-1)

    # -- prototype (metric-based) adaptation ----------------------------------------------------
    def prototype_fast(self, base: torch.Tensor, q: torch.Tensor, y: torch.Tensor,
                       w: torch.Tensor, n_skills: int) -> dict[str, torch.Tensor]:
        """Fast weights of every task of a block without gradient steps, as Prototypical
        Networks classify by distance: the support set is summarised (weighted residuals
        against the init, weight, success rate), softly assigned to learned prototypes by
        negative squared distance, and each prototype carries an ability (learner types) or a
        skill offset (learner-on-a-skill types).

        base (B, T), q (B, T, D), y (B, T), w (B, C, T) -> {"theta": (B, C, 1),
        "alpha": (B, C, D)}.
        """
        fast0 = self.init_fast(n_skills)
        z0 = base + self.theta0 + q @ fast0["alpha"]
        r = (y - torch.sigmoid(z0)).unsqueeze(-2) * w  # (B, C, T)
        tot = w.sum(-1)
        h = torch.stack([r.sum(-1) / (tot + 1.0), torch.log1p(tot),
                         (w * y.unsqueeze(-2)).sum(-1) / (tot + 1.0)], dim=-1)
        t1, t2 = self.proto_log_temp.exp()
        d = ((h.unsqueeze(-2) - self.proto_keys) ** 2).sum(-1)
        theta = self.theta0 + torch.softmax(-t1 * d, dim=-1) @ self.proto_theta
        s1 = n_skills + 1
        ind = (q[..., :s1] > 0).to(w.dtype)  # (B, T, S+1)
        wk = w @ ind  # (B, C, S+1)
        rk = r @ ind
        hk = torch.stack([rk / (wk + 1.0), torch.log1p(wk)], dim=-1)
        dk = ((hk.unsqueeze(-2) - self.proto_skill_keys) ** 2).sum(-1)
        alpha_s = self.alpha0 + torch.softmax(-t2 * dk, dim=-1) @ self.proto_alpha
        u = self.u0.expand(*alpha_s.shape[:-1], self.u0.shape[0])
        return {"theta": theta.unsqueeze(-1), "alpha": torch.cat([alpha_s, u], dim=-1)}
