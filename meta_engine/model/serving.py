"""Serving-time model: adapt to one student (or many), predict on a bank, per-skill mastery.

Everything a worker calls goes through here; `meta_engine.api` re-exports the surface.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain

import numpy as np
import torch

from meta_engine.meta.inner import adapt_many, adapt_single, laplace_variance
from meta_engine.model.features import (
    FeatureState,
    SequenceFeatures,
    featurize,
    featurize_batch,
)
from meta_engine.model.student import MetisNet
from meta_engine.types import Interaction, Item

Z95 = 1.96


@dataclass
class Model:
    """A loaded Metis model: the network, its card and the device it runs on."""

    net: MetisNet
    device: torch.device
    card: dict = field(default_factory=dict)
    version: str = "untrained"

    @property
    def n_skills(self) -> int:
        return self.net.cfg.n_skills

    @property
    def n_items(self) -> int:
        return self.net.cfg.n_items


@dataclass
class StudentState:
    """A student's adapted fast weights, their Laplace variances and history statistics.

    Plain data (floats, lists, dicts) so it can be cached as JSON between requests.
    """

    theta: float
    alpha: list[float]
    var_theta: float
    var_alpha: list[float]
    features: dict
    n_answers: int
    model_version: str = ""
    # The last `window` answers (skills, correct) for the history attention.
    recent_skills: list[list[int]] = field(default_factory=list)
    recent_correct: list[int] = field(default_factory=list)
    recent_items: list[int] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"theta": self.theta, "alpha": list(self.alpha), "var_theta": self.var_theta,
                "var_alpha": list(self.var_alpha), "features": self.features,
                "n_answers": self.n_answers, "model_version": self.model_version,
                "recent_skills": [list(r) for r in self.recent_skills],
                "recent_correct": list(self.recent_correct),
                "recent_items": list(self.recent_items)}

    @classmethod
    def from_dict(cls, d: dict) -> StudentState:
        return cls(float(d["theta"]), [float(x) for x in d["alpha"]], float(d["var_theta"]),
                   [float(x) for x in d["var_alpha"]], dict(d["features"]), int(d["n_answers"]),
                   str(d.get("model_version", "")),
                   [[int(k) for k in r] for r in d.get("recent_skills", [])],
                   [int(c) for c in d.get("recent_correct", [])],
                   [int(i) for i in d.get("recent_items", [])])

    def feature_state(self) -> FeatureState:
        return FeatureState.from_dict(self.features)


def _known_skills(skills: np.ndarray, n_skills: int) -> np.ndarray:
    """Skill ids the model has no row for become padding: the item is placed from the skills
    it knows (or as untagged), instead of indexing past the model's tables."""
    return np.where((skills > 0) & (skills <= n_skills), skills, 0)


def _history_arrays(history: list[Interaction], k: int, n_skills: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(history)
    items = np.zeros(n, dtype=np.int64)
    skills = np.zeros((n, k), dtype=np.int64)
    correct = np.zeros(n, dtype=np.int64)
    for t, x in enumerate(history):
        items[t] = x.item
        sk = x.skills[:k]
        skills[t, : len(sk)] = sk
        correct[t] = x.correct
    return items, _known_skills(skills, n_skills), correct


@dataclass
class _Window:
    """One student's featurised support window, as CPU arrays (padded and moved in batches)."""

    items: np.ndarray  # (T,)
    skills: np.ndarray  # (T, K)
    counts: np.ndarray  # (T, K, 2)
    glob: np.ndarray  # (T, G)
    correct: np.ndarray  # (T,)
    state: FeatureState
    recent: tuple[list, list, list]


def _window(model: Model, history: list[Interaction]) -> _Window:
    """Featurise a history on the CPU and keep its last `window` answers."""
    cfg = model.net.cfg
    feats, st = featurize(*_history_arrays(history, _width(model, history), cfg.n_skills),
                          cfg.n_skills)
    return _cut(model, feats, st)


# From this many histories on, `featurize_batch` beats featurising one by one (measured on
# 50-answer histories: about 2x at 256 and more, a loss below 32).
BATCH_FEATURIZE_MIN = 64


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch builds thousands of plain lists: none
    of them form cycles, yet each collection walks them all (measured: almost half the time
    of featurising 4,096 histories)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _windows(model: Model, histories: list[list[Interaction]]) -> list[_Window]:
    """Featurise many histories: the typical ones together, the few much longer ones alone.
    `featurize_batch` steps through time up to its longest history at a fixed cost per step,
    so one student with thousands of answers would make the whole batch wait."""
    with _no_gc():
        return _featurise_windows(model, histories)


def _featurise_windows(model: Model, histories: list[list[Interaction]]) -> list[_Window]:
    lengths = np.array([len(h) for h in histories])
    together = lengths <= 2 * np.median(lengths) + 16 if len(histories) else lengths > 0
    if together.sum() < BATCH_FEATURIZE_MIN:
        return [_window(model, h) for h in histories]
    n_skills = model.net.cfg.n_skills
    rows = np.flatnonzero(together)
    arrays = [_history_arrays(histories[i], _width(model, histories[i]), n_skills)
              for i in rows]
    out: dict[int, _Window] = {
        int(i): _cut(model, f, st)
        for i, (f, st) in zip(rows, featurize_batch(arrays, n_skills), strict=True)}
    return [out[i] if i in out else _window(model, h) for i, h in enumerate(histories)]


def _width(model: Model, history: list[Interaction]) -> int:
    return max([model.net.cfg.max_skills] + [len(x.skills) for x in history])


def _cut(model: Model, feats: SequenceFeatures, st: FeatureState) -> _Window:
    w0 = max(len(feats.items) - model.net.cfg.window, 0)
    recent = (feats.skills[w0:].tolist(), feats.correct[w0:].astype(int).tolist(),
              feats.items[w0:].tolist())
    return _Window(feats.items[w0:], feats.skills[w0:], feats.counts[w0:], feats.glob[w0:],
                   feats.correct[w0:], st, recent)


def _supports(model: Model, windows: list[_Window]) -> dict[str, torch.Tensor]:
    """Pad the windows into (B, T, ...) arrays, move them to the device in one copy each and
    run the shared network once for the whole batch. Per-student tensor building was a few
    dozen tiny kernel launches per student, which made CUDA slower than the CPU."""
    net = model.net
    b = len(windows)
    t = max(max(len(w.items) for w in windows), 1)
    k = max(w.skills.shape[1] for w in windows)
    g = windows[0].glob.shape[1]
    items = np.zeros((b, t), dtype=np.int64)
    skills = np.zeros((b, t, k), dtype=np.int64)
    counts = np.zeros((b, t, k, 2), dtype=np.float32)
    glob = np.zeros((b, t, g), dtype=np.float32)
    y = np.zeros((b, t), dtype=np.float32)
    age = np.zeros((b, t), dtype=np.float32)
    mask = np.zeros((b, t), dtype=np.float32)
    for i, win in enumerate(windows):
        n, kk = len(win.items), win.skills.shape[1]
        items[i, :n], skills[i, :n, :kk], counts[i, :n, :kk] = win.items, win.skills, win.counts
        glob[i, :n], y[i, :n] = win.glob, win.correct
        age[i, :n] = np.arange(n - 1, -1, -1)
        mask[i, :n] = 1.0
    dev = model.device

    def put(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a).to(dev, non_blocking=True)

    it, sk, cnt, gl = put(items), put(skills), put(counts), put(glob)
    with torch.no_grad():
        base = net.base_logits(it, sk, cnt, gl)
        q = net.design(sk)
        # Zero weight on padding: it adds nothing to the inner loss or the Laplace precision.
        w = torch.exp(-net.decay() * put(age)) * put(mask)
    return {"base": base, "q": q, "y": put(y), "w": w}


def _state(model: Model, fast: dict, var: dict, st: FeatureState, n: int,
           recent: tuple[list, list, list]) -> StudentState:
    return StudentState(float(fast["theta"].reshape(-1)[0]), fast["alpha"].tolist(),
                        float(var["theta"].reshape(-1)[0]), var["alpha"].tolist(),
                        st.to_dict(), n, model.version, recent[0], recent[1], recent[2])


def adapt(model: Model, history: list[Interaction]) -> StudentState:
    """A few inner gradient steps (per-parameter step sizes) from the meta-learned init."""
    net = model.net
    win = _window(model, history)
    sup = {k: v[0] for k, v in _supports(model, [win]).items()}
    with torch.no_grad():
        fast0 = {k: v.detach() for k, v in net.init_fast().items()}
        lrs = {k: v.detach() for k, v in net.inner_lrs().items()}
    fast = adapt_single(fast0, lrs, sup["base"], sup["q"], sup["y"], sup["w"],
                        net.cfg.inner_steps)
    fast = {k: v.detach() for k, v in fast.items()}
    with torch.no_grad():
        var = laplace_variance(fast, sup["base"], sup["q"], sup["w"], net.cfg.prior_precision)
    return _state(model, {k: v.cpu() for k, v in fast.items()},
                  {k: v.cpu() for k, v in var.items()}, win.state, len(history), win.recent)


def adapt_batch(model: Model, histories: list[list[Interaction]]) -> list[StudentState]:
    """One batched (vmapped) adaptation for many students; on CUDA when the model is."""
    if not histories:
        return []
    return adapt_windows(model, _windows(model, histories), [len(h) for h in histories])


def adapt_windows(model: Model, windows: list[_Window], n_answers: list[int]
                  ) -> list[StudentState]:
    """The device part of `adapt_batch`, from histories already featurised on the CPU."""
    net, cfg = model.net, model.net.cfg
    sup = _supports(model, windows)
    with torch.no_grad():
        fast0 = {k: v.detach() for k, v in net.init_fast().items()}
        lrs = {k: v.detach() for k, v in net.inner_lrs().items()}
    fast = adapt_many(fast0, lrs, sup["base"], sup["q"], sup["y"], sup["w"], cfg.inner_steps)
    with torch.no_grad():
        fast = {k: v.detach() for k, v in fast.items()}
        var = laplace_variance(fast, sup["base"], sup["q"], sup["w"], cfg.prior_precision)
    fast = {k: v.cpu() for k, v in fast.items()}
    var = {k: v.cpu() for k, v in var.items()}
    with _no_gc():
        return [_state(model, {k: v[i] for k, v in fast.items()},
                       {k: v[i] for k, v in var.items()}, windows[i].state, n_answers[i],
                       windows[i].recent)
                for i in range(len(windows))]


@dataclass(frozen=True)
class PreparedBank:
    """A bank's items as the arrays every prediction on it needs, built once.

    A worker plans many students on the same bank in one batch; building these arrays walks
    the whole bank, so it is done once per bank rather than once per student.
    """

    items: list[Item]
    ids: np.ndarray  # (N,) model item ids
    skills: np.ndarray  # (N, K) skill ids the model knows, 0 = padding
    prior: np.ndarray  # (N,) difficulty_prior in logits, NaN where none

    def __len__(self) -> int:
        return len(self.items)


def prepare_bank(model: Model, items: list[Item] | PreparedBank) -> PreparedBank:
    if isinstance(items, PreparedBank):
        return items
    n = len(items)
    ids = np.array([it.id for it in items], dtype=np.int64)
    lists = [it.skills for it in items]
    widths = np.fromiter(map(len, lists), dtype=np.int64, count=n)
    skills = np.zeros((n, max(model.net.cfg.max_skills, int(widths.max(initial=0)))),
                      dtype=np.int64)
    # One scatter of every item's skills, row by row and slot by slot.
    rows = np.repeat(np.arange(n), widths)
    slots = np.arange(len(rows)) - np.repeat(np.cumsum(widths) - widths, widths)
    skills[rows, slots] = np.fromiter(chain.from_iterable(lists), dtype=np.int64,
                                      count=len(rows))
    prior = np.array([np.nan if it.difficulty_prior is None else it.difficulty_prior
                      for it in items], dtype=np.float32)
    return PreparedBank(list(items), ids, _known_skills(skills, model.n_skills), prior)


@torch.no_grad()
def predict_logits(model: Model, state: StudentState, ids: np.ndarray, skills: np.ndarray,
                   prior: np.ndarray | None = None) -> np.ndarray:
    """Calibrated logits for candidate items given as arrays (see `predict`)."""
    net, dev = model.net, model.device
    st = state.feature_state()
    g, cnt = st.bank_features(ids, skills)
    sk = torch.as_tensor(skills, device=dev)
    base = net.base_logits(
        torch.as_tensor(ids, device=dev), sk,
        torch.as_tensor(cnt, dtype=torch.float32, device=dev),
        torch.as_tensor(g, dtype=torch.float32, device=dev),
        None if prior is None else torch.as_tensor(prior, device=dev),
    )
    # Through numpy: torch.as_tensor on a list of Python floats is several times slower.
    alpha = torch.from_numpy(np.asarray(state.alpha, dtype=np.float32)).to(dev)
    q = net.design(sk)
    z = base + state.theta + q @ alpha
    # Attention of every candidate over the stored recent answers (all strictly earlier);
    # with no history it still adds its bias, exactly as in training.
    h = len(state.recent_correct)
    kk = max([1] + [len(r) for r in state.recent_skills])
    hs = np.zeros((h, kk), dtype=np.int64)
    for r, row in enumerate(state.recent_skills):
        hs[r, : len(row)] = row
    age = torch.arange(h - 1, -1, -1, device=dev, dtype=z.dtype).unsqueeze(0)
    mask = torch.ones(1, h, dtype=torch.bool, device=dev)
    z = z + net.attention(sk, torch.as_tensor(hs, device=dev),
                          torch.from_numpy(np.asarray(state.recent_correct, dtype=np.int64)
                                           ).to(dev),
                          age, mask, torch.as_tensor(ids, device=dev),
                          torch.from_numpy(np.asarray(state.recent_items, dtype=np.int64)
                                           ).to(dev))
    return net.calibrate(z).cpu().numpy().astype(np.float64)


def apply_item_residuals(ids: np.ndarray, prior: np.ndarray,
                         item_residuals: Mapping[int, float] | None) -> np.ndarray:
    """The residual column with online estimates (item id -> logit, harder = larger) put in
    place: they replace a difficulty_prior and the learned residual alike."""
    if not item_residuals:
        return prior
    out = prior.copy()
    for r, i in enumerate(ids.tolist()):
        v = item_residuals.get(int(i))
        if v is not None:
            out[r] = v
    return out


def predict(model: Model, state: StudentState, items: list[Item] | PreparedBank,
            use_item_residuals: bool = True,
            item_residuals: Mapping[int, float] | None = None) -> np.ndarray:
    """Calibrated P(correct) for each item now.

    An item id the model never saw (or 0) is placed from its skills' difficulties; an item's
    `difficulty_prior` (logit units, harder = larger) replaces the learned residual, and an
    online estimate in `item_residuals` (see `item_calibration`) replaces both. For a
    whole new bank whose ids mean different questions, pass use_item_residuals=False.
    """
    if not items:
        return np.zeros(0)
    bank = prepare_bank(model, items)
    ids, skills = bank.ids, bank.skills
    prior = apply_item_residuals(ids, bank.prior, item_residuals)
    if not use_item_residuals:
        ids = np.zeros_like(ids)
    z = predict_logits(model, state, ids, skills, prior)
    return 1.0 / (1.0 + np.exp(-z))


@dataclass
class Mastery:
    """P(correct) on an average item of each skill now, with a 95% Laplace interval."""

    skills: np.ndarray  # (S,) skill ids 1..S
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    sd_logit: np.ndarray
    attempts: np.ndarray


def mastery(model: Model, state: StudentState) -> Mastery:
    s = model.n_skills
    skills = np.arange(1, s + 1, dtype=np.int64)
    z = predict_logits(model, state, np.zeros(s, dtype=np.int64), skills[:, None])
    a = float(model.net.calib_a)
    va = np.asarray(state.var_alpha)
    emb = model.net.skill_emb.detach().cpu().numpy()[1:]
    # Diagonal Laplace: var(theta + alpha_k + emb_k . u) = v_theta + v_alpha_k + sum emb^2 v_u.
    sd = np.sqrt(state.var_theta + va[1 : s + 1] + (emb * emb) @ va[s + 1 :])
    sig = lambda x: 1.0 / (1.0 + np.exp(-x))  # noqa: E731
    fs = state.features
    attempts = np.asarray(fs["wins"][1:]) + np.asarray(fs["fails"][1:])
    # interval_scale: fitted so that 95% intervals cover the truth on simulated students
    # (meta_engine.model.intervals); 1.0 = the raw Laplace interval.
    half = Z95 * abs(a) * sd * float(model.net.cfg.interval_scale)
    return Mastery(skills, sig(z), sig(z - half), sig(z + half), sd, attempts)


def logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))
