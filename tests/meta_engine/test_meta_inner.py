"""The inner loop: gradients checked, batched forms equal per-student loops."""

from __future__ import annotations

import torch

from meta_engine.meta.inner import (
    adapt_many,
    adapt_one,
    adapt_prefix,
    adapt_single,
    inner_loss_one,
    inner_step,
    support_weights,
)


def _task(n: int = 12, d: int = 6, seed: int = 0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(n, generator=g, dtype=dtype)
    q = torch.rand(n, d, generator=g, dtype=dtype)
    y = (torch.rand(n, generator=g) < 0.6).to(dtype)
    w = torch.rand(n, generator=g, dtype=dtype)
    return base, q, y, w


def test_inner_step_gradcheck_float64() -> None:
    base, q, y, w = _task()
    lrs = {"theta": torch.tensor([0.3], dtype=torch.float64),
           "alpha": torch.full((6,), 0.2, dtype=torch.float64)}

    def f(theta, alpha, base_):
        out = inner_step({"theta": theta, "alpha": alpha}, lrs, base_, q, y, w)
        return out["theta"], out["alpha"]

    theta = torch.randn(1, dtype=torch.float64, requires_grad=True)
    alpha = torch.randn(6, dtype=torch.float64, requires_grad=True)
    b = base.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(f, (theta, alpha, b))


def test_inner_gradient_matches_finite_differences() -> None:
    base, q, y, w = _task()
    fast = {"theta": torch.zeros(1, dtype=torch.float64), "alpha": torch.zeros(6,
                                                                            dtype=torch.float64)}
    lrs = {"theta": torch.ones(1, dtype=torch.float64), "alpha": torch.ones(6,
                                                                           dtype=torch.float64)}
    g = {k: fast[k] - v for k, v in inner_step(fast, lrs, base, q, y, w).items()}  # = grad
    eps = 1e-6
    for i in range(6):
        a1, a2 = fast["alpha"].clone(), fast["alpha"].clone()
        a1[i] += eps
        a2[i] -= eps
        fd = (inner_loss_one({"theta": fast["theta"], "alpha": a1}, base, q, y, w)
              - inner_loss_one({"theta": fast["theta"], "alpha": a2}, base, q, y, w)) / (2 * eps)
        assert abs(float(fd) - float(g["alpha"][i])) < 1e-6


def test_vmap_adaptation_equals_loop() -> None:
    tasks = [_task(seed=s, dtype=torch.float32) for s in range(5)]
    fast0 = {"theta": torch.tensor([0.1]), "alpha": torch.zeros(6)}
    lrs = {"theta": torch.tensor([0.3]), "alpha": torch.full((6,), 0.2)}
    stacked = [torch.stack(x) for x in zip(*tasks, strict=True)]
    batched = adapt_many(fast0, lrs, *stacked, steps=3)
    for i, t in enumerate(tasks):
        one = adapt_one(fast0, lrs, *t, steps=3)
        torch.testing.assert_close(batched["theta"][i], one["theta"])
        torch.testing.assert_close(batched["alpha"][i], one["alpha"])
    assert not torch.allclose(batched["alpha"][0], batched["alpha"][1])


def test_single_student_autograd_path_equals_torch_func() -> None:
    """The serving path for one student (torch.autograd.grad) takes the same steps as the
    torch.func one that vmap batches."""
    fast0 = {"theta": torch.tensor([0.1], dtype=torch.float64),
             "alpha": torch.linspace(-0.2, 0.2, 6, dtype=torch.float64)}
    lrs = {"theta": torch.tensor([0.3], dtype=torch.float64),
           "alpha": torch.full((6,), 0.2, dtype=torch.float64)}
    for seed in range(3):
        task = _task(seed=seed)
        one, single = adapt_one(fast0, lrs, *task, steps=3), adapt_single(fast0, lrs, *task, 3)
        for k in one:
            torch.testing.assert_close(single[k], one[k], rtol=1e-12, atol=1e-12)
            assert not single[k].requires_grad
        assert not torch.equal(single["alpha"], fast0["alpha"])
    assert not fast0["alpha"].requires_grad  # the initialisation is left alone


def test_prefix_adaptation_equals_per_prefix_loop() -> None:
    """Hand-batched prefix tasks == adapting each prefix separately on its own support."""
    window, chunk, d = 4, 5, 6
    t_len = window + chunk
    base, q, y, _ = _task(n=t_len, seed=2, dtype=torch.float32)
    valid = torch.ones(1, t_len, dtype=torch.bool)
    valid[0, 0] = False  # a padded context slot contributes nothing
    decay = torch.tensor(0.3)
    w = support_weights(valid, window, chunk, decay)
    fast0 = {"theta": torch.tensor([0.1]), "alpha": torch.zeros(d)}
    lrs = {"theta": torch.tensor([0.3]), "alpha": torch.full((d,), 0.2)}
    fast = adapt_prefix(fast0, lrs, base[None], q[None], y[None], w, steps=2, first_order=True)
    for c in range(chunk):
        pos = window + c
        js = [j for j in range(pos - window, pos) if valid[0, j]]
        ww = torch.tensor([float(torch.exp(-decay * (pos - 1 - j))) for j in js])
        one = adapt_one(fast0, lrs, base[js], q[js], y[js], ww, steps=2)
        torch.testing.assert_close(fast["theta"][0, c], one["theta"])
        torch.testing.assert_close(fast["alpha"][0, c], one["alpha"])
        assert w[0, c, pos:].abs().sum() == 0  # nothing at or after the target


def test_second_order_differs_from_first_order_meta_gradient() -> None:
    base, q, y, w = _task(n=8, d=3, dtype=torch.float32)
    t_len = 8
    window, chunk = 4, 4
    valid = torch.ones(1, t_len, dtype=torch.bool)
    wp = support_weights(valid, window, chunk, torch.tensor(0.1))
    grads = []
    for fo in (True, False):
        theta0 = torch.zeros(1, requires_grad=True)
        fast0 = {"theta": theta0, "alpha": torch.zeros(3, requires_grad=True)}
        lrs = {"theta": torch.tensor([0.5]), "alpha": torch.full((3,), 0.5)}
        f = adapt_prefix(fast0, lrs, base[None], q[None, :, :3], y[None], wp, 2, fo)
        loss = (f["theta"] ** 2).sum()
        (g,) = torch.autograd.grad(loss, [theta0])
        grads.append(float(g))
    assert abs(grads[0] - grads[1]) > 1e-4
