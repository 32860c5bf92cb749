"""Outer loops over student tasks: Meta-SGD, MAML, first-order MAML, Reptile, prototypes.

A task is one student's block of answers: support = the answers strictly before each target
(within the window), query = the target. Tasks of one batch come from one course (courses are
tasks too: the core is shared, each course has its own tables). The five methods share the
model and differ in how a student's fast weights are obtained and how the outer gradient flows:

- metasgd: second-order; the inner step sizes (one per kind of fast weight) are meta-learned;
- maml:    second-order, fixed step size;
- fomaml:  first-order (inner gradients detached), fixed step size;
- reptile: the published update (Nichol, Achiam & Schulman 2018, batched form): each task's
           fast weights take k SGD steps from the initialisation on the whole task (support and
           query), and the initialisation moves toward their mean by a plain step,
           phi0 <- phi0 + eps * mean_tasks(phi_task - phi0) (not through Adam); the body (every
           other core parameter, and the course tables) is trained on the query loss with
           first-order adaptation;
- proto:   metric-based (Prototypical Networks): no inner gradient step; the support set is
           summarised and softly assigned to learned learner prototypes by distance
           (`MetisCore.prototype_fast`); trained end to end on the query loss.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from meta_engine.meta.inner import adapt_prefix, support_mask, support_weights
from meta_engine.model.core import MetisCore, TableInputs, skill_onehot
from meta_engine.model.student import Chunks
from meta_engine.model.tables import TableParams

ALGORITHMS = ("metasgd", "maml", "fomaml", "reptile", "proto")
INIT_PARAMS = ("theta0", "alpha0", "u0")


def chunk_logits(core: MetisCore, tables: TableParams, ch: Chunks, first_order: bool = True,
                 drop_items: bool = False, drop_emb: bool = False,
                 online: bool = False) -> torch.Tensor:
    """Strict prediction logits (uncalibrated) for the target slots of each row: (B, C).
    `online`: the table inputs are the chunk's online difficulties (no trained table)."""
    cfg = core.cfg
    w_, s = cfg.window, ch.n_skills
    if online and ch.online is not None:
        z = torch.zeros(*ch.skills.shape, 2, dtype=ch.glob.dtype, device=ch.glob.device)
        tab = TableInputs(ch.online, z, torch.zeros(*ch.items.shape, cfg.rank,
                                                    dtype=ch.glob.dtype,
                                                    device=ch.glob.device))
    else:
        tab = tables.gather(ch.items, ch.skills, drop_items, drop_emb)
    base = core.base_logits(tab, ch.counts, ch.skills, ch.glob)
    oh = skill_onehot(ch.skills, s, base.dtype)
    q = core.design(oh, tab.emb)
    w = support_weights(ch.valid, w_, cfg.chunk, core.decay())
    if cfg.algo == "proto":
        fast = core.prototype_fast(base, q, ch.y, w, s)
    else:
        fast = adapt_prefix(core.init_fast(s), core.inner_lrs(s), base, q, ch.y, w,
                            cfg.inner_steps, first_order)
    qt = q[:, w_:]
    mask, age = support_mask(ch.valid, w_, cfg.chunk)
    att = core.attention(oh[:, w_:], oh, ch.items[:, w_:],
                         ch.items, tab.emb[:, w_:], tab.emb, ch.y, age, mask)
    return base[:, w_:] + fast["theta"].squeeze(-1) + (fast["alpha"] * qt).sum(-1) + att


class MetaAlgorithm:
    """One outer optimiser step per call of `train_step`, on a batch of one course's tasks."""

    def __init__(self, core: MetisCore, tables: list[TableParams], algo: str) -> None:
        if algo not in ALGORITHMS:
            raise ValueError(f"unknown meta-learning algorithm {algo!r}; choose {ALGORITHMS}")
        self.core, self.tables, self.algo = core, tables, algo
        self.first_order = algo in ("fomaml", "reptile")
        cfg = core.cfg
        skip = set(INIT_PARAMS) if algo == "reptile" else set()
        body = [p for n, p in core.named_parameters() if p.requires_grad and n not in skip]
        items = [t.item for t in tables]
        rest = [p for t in tables for n, p in t.named_parameters() if n != "item"]
        groups: list[dict[str, Any]] = [
            {"params": body + rest},
            {"params": items, "lr": cfg.lr * cfg.item_lr_scale},
        ]
        self.opt = torch.optim.Adam(groups, lr=cfg.lr)
        self.rng = np.random.default_rng(cfg.seed + 17)

    def outer_loss(self, ch: Chunks, course: int, drop_items: bool = False,
                   drop_emb: bool = False, online: bool = False) -> torch.Tensor:
        cfg = self.core.cfg
        tab = self.tables[course]
        z = chunk_logits(self.core, tab, ch, self.first_order, drop_items, drop_emb, online)
        tgt = ch.target[:, cfg.window:]
        y = ch.y[:, cfg.window:]
        loss = F.binary_cross_entropy_with_logits(z[tgt], y[tgt])
        # Rare items would otherwise fit their few answers: shrink entries toward the prior.
        return loss + tab.penalty(ch.items[:, cfg.window:][tgt], ch.skills[:, cfg.window:][tgt],
                                  cfg)

    def train_step(self, ch: Chunks, course: int = 0) -> float:
        cfg = self.core.cfg
        drop_i = bool(self.rng.random() < cfg.drop_items)
        drop_e = bool(self.rng.random() < cfg.drop_emb)
        online = ch.online is not None and bool(self.rng.random() < cfg.online_tables)
        self.opt.zero_grad(set_to_none=True)
        loss = self.outer_loss(ch, course, drop_i, drop_e, online)
        loss.backward()
        params = [p for g in self.opt.param_groups for p in g["params"]]
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        self.opt.step()
        if self.algo == "reptile":
            self._reptile_step(ch, course)
        return float(loss.detach())

    @torch.no_grad()
    def _reptile_step(self, ch: Chunks, course: int) -> None:
        """phi0 <- phi0 + eps * mean over tasks of (adapted phi - phi0), adapted on the whole
        task (its support and its query answer: `include_self`)."""
        core, cfg = self.core, self.core.cfg
        tab = self.tables[course].gather(ch.items, ch.skills)
        base = core.base_logits(tab, ch.counts, ch.skills, ch.glob)
        s = ch.n_skills
        q = core.design(skill_onehot(ch.skills, s, base.dtype), tab.emb)
        w = support_weights(ch.valid, cfg.window, cfg.chunk, core.decay(), include_self=True)
        fast = adapt_prefix(core.init_fast(s), core.inner_lrs(s), base, q, ch.y, w,
                            cfg.inner_steps, True)
        tgt = ch.target[:, cfg.window:]
        eps = cfg.reptile_eps
        core.theta0.add_(eps * (fast["theta"][tgt].mean(0) - core.theta0))
        a = fast["alpha"][tgt]  # (N, S+1+r)
        # alpha0 is one value for every skill: move it by the skills each task practised.
        seen = (w.unsqueeze(-1) * q.unsqueeze(1)).sum(-2)[tgt][:, : s + 1] > 0
        if seen.any():
            core.alpha0.add_(eps * ((a[:, : s + 1] - core.alpha0)[seen]).mean())
        core.u0.add_(eps * (a[:, s + 1:].mean(0) - core.u0))


@torch.no_grad()
def predict_chunks(core: MetisCore, tables: TableParams, ch: Chunks, batch: int = 256,
                   calibrated: bool = True, online: bool = False) -> np.ndarray:
    """Logits (calibrated if asked) for every target slot: (N, C), NaN-free, pads included."""
    out = []
    for i in range(0, len(ch), batch):
        sub = ch.subset(np.arange(i, min(i + batch, len(ch))))
        z = chunk_logits(core, tables, sub, first_order=True, online=online)
        out.append(core.calibrate(z) if calibrated else z)
    return torch.cat(out).cpu().numpy() if out else np.zeros((0, core.cfg.chunk))
