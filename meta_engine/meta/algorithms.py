"""Outer loops: Meta-SGD, MAML, first-order MAML and Reptile over student tasks.

A task is one student's block of answers: support = the answers strictly before each target
(within the window), query = the target. All four share the inner loop of
`meta_engine.meta.inner`; they differ in what is learned and how the outer gradient flows:

- metasgd: second-order, per-parameter inner step sizes are meta-learned;
- maml:    second-order, fixed scalar step size;
- fomaml:  first-order (inner gradients detached), fixed step size;
- reptile: first-order; the initialisation moves toward the task-adapted weights (support +
           query), the shared parts are trained on the query loss.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from meta_engine.meta.inner import adapt_prefix, support_mask, support_weights
from meta_engine.model.student import Chunks, MetisNet

ALGORITHMS = ("metasgd", "maml", "fomaml", "reptile")


def chunk_logits(net: MetisNet, ch: Chunks, first_order: bool = True) -> torch.Tensor:
    """Strict prediction logits (uncalibrated) for the target slots of each row: (B, C)."""
    cfg = net.cfg
    base = net.base_logits(ch.items, ch.skills, ch.counts, ch.glob)
    q = net.design(ch.skills)
    w = support_weights(ch.valid, cfg.window, cfg.chunk, net.decay())
    fast = adapt_prefix(net.init_fast(), net.inner_lrs(), base, q, ch.y, w,
                        cfg.inner_steps, first_order)
    qt = q[:, cfg.window:]
    mask, age = support_mask(ch.valid, cfg.window, cfg.chunk)
    att = net.attention(ch.skills[:, cfg.window:], ch.skills, ch.y, age.to(base.dtype), mask,
                        ch.items[:, cfg.window:], ch.items)
    return (base[:, cfg.window:] + fast["theta"].squeeze(-1) + (fast["alpha"] * qt).sum(-1)
            + att)


class MetaAlgorithm:
    """One outer optimiser step per call of `train_step` (supervised-reptile style)."""

    def __init__(self, net: MetisNet, algo: str) -> None:
        if algo not in ALGORITHMS:
            raise ValueError(f"unknown meta-learning algorithm {algo!r}; choose {ALGORITHMS}")
        self.net, self.algo = net, algo
        self.first_order = algo in ("fomaml", "reptile")
        params = [p for n, p in net.named_parameters() if p.requires_grad and n != "item_res"]
        groups: list[dict[str, Any]] = [
            {"params": params},
            {"params": [net.item_res], "lr": net.cfg.lr * net.cfg.item_lr_scale},
        ]
        self.opt = torch.optim.Adam(groups, lr=net.cfg.lr)

    def outer_loss(self, ch: Chunks) -> torch.Tensor:
        cfg = self.net.cfg
        z = chunk_logits(self.net, ch, self.first_order)
        tgt = ch.target[:, cfg.window:]
        y = ch.y[:, cfg.window:]
        loss = F.binary_cross_entropy_with_logits(z[tgt], y[tgt])
        # Rare items would otherwise fit their few answers; shrink residuals toward the
        # skill-based prior (residual 0).
        res = self.net.item_res[ch.items[:, cfg.window:][tgt]]
        return loss + cfg.l2_item * (res * res).mean()

    def train_step(self, ch: Chunks) -> float:
        self.opt.zero_grad(set_to_none=True)
        loss = self.outer_loss(ch)
        loss.backward()
        if self.algo == "reptile":
            self._reptile_init_grad(ch)
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), 5.0)
        self.opt.step()
        return float(loss.detach())

    @torch.no_grad()
    def _reptile_init_grad(self, ch: Chunks) -> None:
        """Replace the init's gradient by Reptile's direction: phi0 - mean(adapted phi)."""
        net, cfg = self.net, self.net.cfg
        base = net.base_logits(ch.items, ch.skills, ch.counts, ch.glob)
        q = net.design(ch.skills)
        w = support_weights(ch.valid, cfg.window, cfg.chunk, net.decay(), include_self=True)
        fast = adapt_prefix(net.init_fast(), net.inner_lrs(), base, q, ch.y, w,
                            cfg.inner_steps, True)
        tgt = ch.target[:, cfg.window:]
        eps = cfg.reptile_eps / max(cfg.lr, 1e-8)
        net.theta0.grad = eps * (net.theta0 - fast["theta"][tgt].mean(0))
        net.alpha0.grad = eps * (net.alpha0 - fast["alpha"][tgt].mean(0))


@torch.no_grad()
def predict_chunks(net: MetisNet, ch: Chunks, batch: int = 256,
                   calibrated: bool = True) -> np.ndarray:
    """Logits (calibrated if asked) for every target slot: (N, C), NaN-free, pads included."""
    out = []
    for i in range(0, len(ch), batch):
        sub = ch.subset(np.arange(i, min(i + batch, len(ch))))
        z = chunk_logits(net, sub, first_order=True)
        out.append(net.calibrate(z) if calibrated else z)
    return torch.cat(out).cpu().numpy() if out else np.zeros((0, net.cfg.chunk))
