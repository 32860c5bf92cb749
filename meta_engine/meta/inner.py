"""The inner loop: adapting a student's fast weights from the meta-learned initialisation.

Fast weights are a plain dict {"theta": ability, "alpha": per-skill offsets}; every function
here is pure in (fast dict, data), so adapted weights can be stored, batched and vmapped.

Two batched forms:
- `adapt_prefix` adapts *every prefix* of a block of answers at once (hand-batched): the task
  for target t has as support the answers strictly before t inside the window. Because task
  losses are summed and each task owns its fast weights, one autograd call yields every
  task's own gradient. This is what makes strict evaluation and meta-training cheap.
- `adapt_one` (torch.func.grad) adapts one student on its support set; `adapt_many` is its
  vmap over students (padded support, zero weights on padding); `adapt_single` takes the same
  steps by torch.autograd.grad, for one student at serving time.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from torch.func import grad, vmap

Fast = dict[str, torch.Tensor]


def support_mask(valid: torch.Tensor, window: int, chunk: int,
                 include_self: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T) valid -> support mask (B, C, T) and age (C, T) of answer j for target window+c."""
    t_len = valid.shape[-1]
    dev = valid.device
    pos = window + torch.arange(chunk, device=dev).unsqueeze(-1)  # (C, 1) target positions
    j = torch.arange(t_len, device=dev).unsqueeze(0)  # (1, T)
    age = pos - 1 - j + (1 if include_self else 0)
    inside = (age >= 0) & (age < window)
    return inside.unsqueeze(0) & valid.unsqueeze(-2), age.clamp(min=0)


def support_weights(valid: torch.Tensor, window: int, chunk: int, decay: torch.Tensor,
                    include_self: bool = False) -> torch.Tensor:
    """(B, T) valid -> (B, C, T) weight of answer j in the support of target slot window+c.

    Weight exp(-decay * age) for the answers strictly before the target (or up to and
    including it when `include_self`, used by Reptile's task-level adaptation), 0 elsewhere.
    """
    t_len = valid.shape[-1]
    dev = valid.device
    pos = window + torch.arange(chunk, device=dev).unsqueeze(-1)  # (C, 1) target positions
    j = torch.arange(t_len, device=dev).unsqueeze(0)  # (1, T)
    age = pos - 1 - j + (1 if include_self else 0)
    inside = (age >= 0) & (age < window)
    w = torch.exp(-decay * age.clamp(min=0).to(decay.dtype)) * inside
    return w.unsqueeze(0) * valid.unsqueeze(-2).to(w.dtype)


def prefix_support_logits(fast: Fast, base: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Logit of every support answer j under the fast weights of every task c: (B, C, T)."""
    return fast["theta"] + torch.matmul(fast["alpha"], q.transpose(-1, -2)) + base.unsqueeze(-2)


def prefix_inner_loss(fast: Fast, base: torch.Tensor, q: torch.Tensor, y: torch.Tensor,
                      w: torch.Tensor) -> torch.Tensor:
    z = prefix_support_logits(fast, base, q)
    bce = F.binary_cross_entropy_with_logits(z, y.unsqueeze(-2).expand_as(z), reduction="none")
    return (w * bce).sum()


def adapt_prefix(fast0: Fast, lrs: Fast, base: torch.Tensor, q: torch.Tensor, y: torch.Tensor,
                 w: torch.Tensor, steps: int, first_order: bool) -> Fast:
    """k inner SGD steps (per-parameter step sizes `lrs`) for every prefix task of a block.

    base (B, T), q (B, T, S+1), y (B, T), w (B, C, T) -> fast {"theta": (B,C,1),
    "alpha": (B,C,S+1)}. Second order (MAML / Meta-SGD) keeps the graph through the inner
    gradients; first order detaches them (dφ_k/dφ_0 = I) and is what inference uses.
    """
    b, c = w.shape[0], w.shape[1]
    fast: Fast = {"theta": fast0["theta"].expand(b, c, 1),
                  "alpha": fast0["alpha"].expand(b, c, fast0["alpha"].shape[-1])}
    if first_order:
        base, w = base.detach(), w.detach()
    for _ in range(steps):
        if first_order:
            leaf = {k: v.detach().requires_grad_(True) for k, v in fast.items()}
            with torch.enable_grad():
                loss = prefix_inner_loss(leaf, base, q, y, w)
                g = torch.autograd.grad(loss, [leaf["theta"], leaf["alpha"]])
        else:
            loss = prefix_inner_loss(fast, base, q, y, w)
            g = torch.autograd.grad(loss, [fast["theta"], fast["alpha"]], create_graph=True)
        fast = {"theta": fast["theta"] - lrs["theta"] * g[0],
                "alpha": fast["alpha"] - lrs["alpha"] * g[1]}
    return fast


# -- one student (torch.func) -------------------------------------------------------------------
def inner_loss_one(fast: Fast, base: torch.Tensor, q: torch.Tensor, y: torch.Tensor,
                   w: torch.Tensor) -> torch.Tensor:
    """Weighted BCE of one student's support answers: base (N,), q (N, S+1), y (N,), w (N,)."""
    z = fast["theta"] + q @ fast["alpha"] + base
    return (w * F.binary_cross_entropy_with_logits(z, y, reduction="none")).sum()


def inner_step(fast: Fast, lrs: Fast, base: torch.Tensor, q: torch.Tensor, y: torch.Tensor,
               w: torch.Tensor) -> Fast:
    """One Meta-SGD step: fast - lrs * grad(inner loss). Pure; gradchecked in the tests."""
    g = grad(inner_loss_one)(fast, base, q, y, w)
    return {k: fast[k] - lrs[k] * g[k] for k in fast}


def adapt_one(fast0: Fast, lrs: Fast, base: torch.Tensor, q: torch.Tensor, y: torch.Tensor,
              w: torch.Tensor, steps: int) -> Fast:
    fast = dict(fast0)
    for _ in range(steps):
        fast = inner_step(fast, lrs, base, q, y, w)
    return fast


def adapt_single(fast0: Fast, lrs: Fast, base: torch.Tensor, q: torch.Tensor, y: torch.Tensor,
                 w: torch.Tensor, steps: int) -> Fast:
    """`adapt_one` for one student outside vmap, by `torch.autograd.grad` on the same inner
    loss (tested equal): torch.func's transforms cost about four times the arithmetic of a
    50-answer support set, and one student's latency is what a page waits for."""
    fast = {k: v.detach() for k, v in fast0.items()}
    for _ in range(steps):
        leaf = {k: v.requires_grad_(True) for k, v in fast.items()}
        with torch.enable_grad():
            g = torch.autograd.grad(inner_loss_one(leaf, base, q, y, w), list(leaf.values()))
        fast = {k: (leaf[k] - lrs[k] * gk).detach() for k, gk in zip(leaf, g, strict=True)}
    return fast


def adapt_many(fast0: Fast, lrs: Fast, base: torch.Tensor, q: torch.Tensor, y: torch.Tensor,
               w: torch.Tensor, steps: int) -> Fast:
    """vmap of `adapt_one` over students: base (B, N), q (B, N, S+1), y (B, N), w (B, N)."""
    fn = partial(adapt_one, steps=steps)
    return vmap(fn, in_dims=(None, None, 0, 0, 0, 0))(fast0, lrs, base, q, y, w)


def laplace_variance(fast: Fast, base: torch.Tensor, q: torch.Tensor, w: torch.Tensor,
                     prior_precision: float) -> Fast:
    """Diagonal Laplace posterior variance of the fast weights at the adapted point.

    Hessian of the weighted BCE is sum_j w_j p_j (1 - p_j) x_j x_j^T; we keep its diagonal
    plus a Gaussian prior precision, per parameter. Works batched over leading dims.
    """
    z = fast["theta"] + (q * fast["alpha"].unsqueeze(-2)).sum(-1) + base
    p = torch.sigmoid(z)
    h = w * p * (1 - p)
    var_t = 1.0 / (h.sum(-1, keepdim=True) + prior_precision)
    var_a = 1.0 / ((h.unsqueeze(-1) * q * q).sum(-2) + prior_precision)
    return {"theta": var_t, "alpha": var_a}
