"""Serving-time model: adapt to one student (or many), predict on a bank, per-skill mastery.

Items and skills are the course's own ids (any positive integers): nothing is folded onto a
training dataset's slots. A call reads the course's tables (`CourseTables`: a jointly trained
course's tables and/or what the course learned online); without one, the model's own tables
are used (empty for the shipped core: every entry at its prior). `meta_engine.api`
re-exports the surface; `meta_engine.serve` runs a batch of grade events through it.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain

import numpy as np
import torch

from meta_engine.meta.inner import adapt_prefix, adapt_single, laplace_variance
from meta_engine.model.core import MetisCore, TableInputs, skill_onehot
from meta_engine.model.features import FeatureState, SequenceFeatures, featurize, featurize_batch
from meta_engine.model.resume import ResumePoint
from meta_engine.model.student import MetisNet
from meta_engine.model.tables import BaseTables, CourseTables, TableDeltas, TablePriors
from meta_engine.types import Interaction, Item

Z95 = 1.96
# What `Model.n_skills` says for a model without skill tables: any skill id is welcome (an
# older caller that folds ids modulo this keeps every skill apart).
OPEN_VOCABULARY = 1_000_000


@dataclass
class Model:
    """A loaded Metis model: the network (core + its own course's tables), card, device."""

    net: MetisNet
    device: torch.device
    card: dict = field(default_factory=dict)
    version: str = "untrained"
    _base: BaseTables | None = field(default=None, repr=False, compare=False)

    @property
    def core(self) -> MetisCore:
        return self.net.core

    @property
    def n_skills(self) -> int:
        return self.net.tables.n_skills or OPEN_VOCABULARY

    @property
    def n_items(self) -> int:
        return self.net.tables.n_items

    @property
    def priors(self) -> TablePriors:
        return TablePriors.from_config(self.net.cfg)

    def base_tables(self) -> BaseTables:
        if self._base is None:
            self._base = BaseTables.from_params(self.net.tables, self.priors)
        return self._base

    def course_tables(self, deltas: TableDeltas | None = None) -> CourseTables:
        """This model's own tables (trained, possibly empty) plus online `deltas`."""
        return CourseTables(self.priors, self.base_tables(), deltas, self.net.cfg.rank)

    def new_course_tables(self, deltas: TableDeltas | None = None) -> CourseTables:
        """Tables of a course the model never saw: priors plus online `deltas`."""
        return CourseTables(self.priors, None, deltas, self.net.cfg.rank)


@dataclass
class StudentState:
    """A student's adapted fast weights, their Laplace variances and history statistics.

    `skill_ids` are the course's skill ids of the student's history; `alpha` / `var_alpha`
    run over [pad, skill_ids..., rank code]; `features` is the history's FeatureState over
    the same skills (local index 1..len(skill_ids)). Plain data, JSON via to_dict/from_dict.
    """

    theta: float
    alpha: list[float]
    var_theta: float
    var_alpha: list[float]
    features: dict
    n_answers: int
    model_version: str = ""
    # The last `window` answers (skills, correct, items) for the history attention.
    recent_skills: list[list[int]] = field(default_factory=list)
    recent_correct: list[int] = field(default_factory=list)
    recent_items: list[int] = field(default_factory=list)
    skill_ids: list[int] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"theta": self.theta, "alpha": list(self.alpha), "var_theta": self.var_theta,
                "var_alpha": list(self.var_alpha), "features": self.features,
                "n_answers": self.n_answers, "model_version": self.model_version,
                "recent_skills": [list(r) for r in self.recent_skills],
                "recent_correct": list(self.recent_correct),
                "recent_items": list(self.recent_items), "skill_ids": list(self.skill_ids)}

    @classmethod
    def from_dict(cls, d: dict) -> StudentState:
        return cls(float(d["theta"]), [float(x) for x in d["alpha"]], float(d["var_theta"]),
                   [float(x) for x in d["var_alpha"]], dict(d["features"]), int(d["n_answers"]),
                   str(d.get("model_version", "")),
                   [[int(k) for k in r] for r in d.get("recent_skills", [])],
                   [int(c) for c in d.get("recent_correct", [])],
                   [int(i) for i in d.get("recent_items", [])],
                   [int(k) for k in d.get("skill_ids", [])])

    def feature_state(self) -> FeatureState:
        return FeatureState.from_dict(self.features)

    def attempts(self) -> dict[int, int]:
        """Answers per skill id in the student's history."""
        w, f = self.features["wins"], self.features["fails"]
        return {k: int(w[j + 1] + f[j + 1]) for j, k in enumerate(self.skill_ids)}


# -- featurising a history in its own skill index -----------------------------------------------
def _history_arrays(history: Sequence[Interaction], k: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(items, skills in course ids, skills in the history's local index, correct)."""
    n = len(history)
    items = np.zeros(n, dtype=np.int64)
    skills = np.zeros((n, k), dtype=np.int64)
    correct = np.zeros(n, dtype=np.int64)
    for t, x in enumerate(history):
        items[t] = x.item
        sk = [s for s in x.skills if s > 0][:k]
        skills[t, : len(sk)] = sk
        correct[t] = x.correct
    ids = np.unique(skills[skills > 0])
    local = np.where(skills > 0, np.searchsorted(ids, skills) + 1, 0)
    return items, skills, local, correct


@dataclass
class Window:
    """One student's featurised support window, as CPU arrays (padded and moved in batches)."""

    items: np.ndarray  # (T,) course item ids
    skills: np.ndarray  # (T, K) course skill ids
    local: np.ndarray  # (T, K) local skill index 1..n
    counts: np.ndarray  # (T, K, 2)
    glob: np.ndarray  # (T, G)
    correct: np.ndarray  # (T,)
    state: FeatureState
    skill_ids: np.ndarray  # (n,) course skill id of local index 1..n
    n_answers: int


def _width(model: Model, history: Sequence[Interaction]) -> int:
    return max([model.net.cfg.max_skills] + [len(x.skills) for x in history])


def _window(model: Model, history: Sequence[Interaction], extra: int = 0,
            start: ResumePoint | None = None) -> Window:
    """Featurise `history`, or with `start` the answers after that point (then `history` is
    only those: the statistics of the earlier ones come from the point)."""
    items, skills, local, correct = _history_arrays(history, _width(model, history))
    ids = np.unique(skills[skills > 0])
    first = max(len(history) - model.net.cfg.window - extra, 0)  # rows `_cut` keeps
    if start is None:
        feats, st = featurize(items, local, correct, int(ids.size), from_row=first)
        return _cut(model, feats, st, skills, ids, extra)
    ids = np.union1d(np.asarray(start.skill_ids, dtype=np.int64), ids)
    local = np.where(skills > 0, np.searchsorted(ids, skills) + 1, 0)
    feats, st = featurize(items, local, correct, int(ids.size), start.features_over(ids),
                          from_row=first)
    return _cut(model, feats, st, skills, ids, extra, start.n)


def _cut(model: Model, feats: SequenceFeatures, st: FeatureState, skills: np.ndarray,
         ids: np.ndarray, extra: int = 0, before: int = 0) -> Window:
    """The last `window` (+ `extra`) answers of a featurised history (that follows `before`
    earlier answers)."""
    w0 = max(len(feats.items) - model.net.cfg.window - extra, 0)
    return Window(feats.items[w0:], skills[w0:], feats.skills[w0:], feats.counts[w0:],
                   feats.glob[w0:], feats.correct[w0:], st, ids.astype(np.int64),
                   before + len(feats.items))


def _less_extra(model: Model, win: Window) -> Window:
    """A window featurised with `extra=1`, cut to what `extra=0` gives for the same history
    (the features of a row depend only on the answers before it)."""
    w0 = max(len(win.items) - model.net.cfg.window, 0)
    if w0 == 0:
        return win
    return Window(win.items[w0:], win.skills[w0:], win.local[w0:], win.counts[w0:],
                   win.glob[w0:], win.correct[w0:], win.state, win.skill_ids, win.n_answers)


def history_windows(model: Model, histories: Sequence[Sequence[Interaction]],
                    starts: Sequence[ResumePoint | None] | None = None) -> list[Window]:
    """Featurise each history once for both `predict_next` and `adapt_batch` (pass the
    result as their `windows`): a batch of events needs both on the same histories."""
    return _windows(model, histories, extra=1, starts=starts)


# From this many histories on, `featurize_batch` beats featurising one by one (measured on
# 50-answer histories: about 2x at 256 and more, a loss below 32).
BATCH_FEATURIZE_MIN = 64


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch builds thousands of plain lists."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _restrict(st: FeatureState, keep: np.ndarray) -> FeatureState:
    """A FeatureState over a batch-wide skill index cut down to the local indices `keep`."""
    idx = [0] + [int(k) for k in keep]
    return FeatureState(
        len(keep), wins=[st.wins[k] for k in idx], fails=[st.fails[k] for k in idx],
        ewins=[st.ewins[k] for k in idx], efails=[st.efails[k] for k in idx],
        last=[st.last[k] for k in idx], last_seen=[st.last_seen[k] for k in idx],
        item_wins=st.item_wins, item_fails=st.item_fails, total_wins=st.total_wins,
        total_fails=st.total_fails, last_answer=st.last_answer, g_ewins=st.g_ewins,
        g_efails=st.g_efails, n=st.n)


def _windows(model: Model, histories: Sequence[Sequence[Interaction]], extra: int = 0,
             starts: Sequence[ResumePoint | None] | None = None) -> list[Window]:
    """Featurise many histories: the typical ones together (one skill index for the batch,
    cut back to each student's own skills), the few much longer ones alone. A history with
    a resume point (`starts`) is only its answers after the point: short, so alone too."""
    if starts is not None and any(p is not None for p in starts):
        rest = [i for i, p in enumerate(starts) if p is None]
        fresh = dict(zip(rest, _windows(model, [histories[i] for i in rest], extra),
                         strict=True))
        return [fresh[i] if p is None else _window(model, histories[i], extra, p)
                for i, p in enumerate(starts)]
    with _no_gc():
        lengths = np.array([len(h) for h in histories])
        together = (lengths <= 2 * np.median(lengths) + 16 if len(histories)
                    else lengths > 0)
        if together.sum() < BATCH_FEATURIZE_MIN:
            return [_window(model, h, extra) for h in histories]
        rows = np.flatnonzero(together)
        arrays = [_history_arrays(histories[int(i)], _width(model, histories[int(i)]))
                  for i in rows]
        union = np.unique(np.concatenate([a[1][a[1] > 0] for a in arrays] + [np.zeros(0,
                                                                               np.int64)]))
        glob_local = [np.where(a[1] > 0, np.searchsorted(union, a[1]) + 1, 0) for a in arrays]
        out: dict[int, Window] = {}
        feats = featurize_batch([(a[0], g, a[3]) for a, g in zip(arrays, glob_local,
                                                                  strict=True)],
                                int(union.size))
        for i, a, _g, (f, st) in zip(rows, arrays, glob_local, feats, strict=True):
            ids = np.unique(a[1][a[1] > 0])
            keep = np.searchsorted(union, ids) + 1  # batch-wide index of the student's skills
            f.skills = a[2]  # the student's own local index, as `_window` builds it
            out[int(i)] = _cut(model, f, _restrict(st, keep), a[1], ids, extra)
        return [out[i] if i in out else _window(model, h, extra)
                for i, h in enumerate(histories)]


# -- the shared network on padded batches -------------------------------------------------------
def _tables_for(model: Model, tables: CourseTables | None) -> CourseTables:
    return tables if tables is not None else model.course_tables()


def _stated(items: np.ndarray, item_priors: Mapping[int, float] | None) -> np.ndarray | None:
    if not item_priors:
        return None
    flat = [item_priors.get(int(i), math.nan) for i in items.reshape(-1).tolist()]
    return np.asarray(flat, dtype=np.float64).reshape(items.shape)


def _supports(model: Model, windows: list[Window], tables: CourseTables,
              item_priors: Mapping[int, float] | None, target: bool = False
              ) -> dict[str, torch.Tensor]:
    """Pad the windows into (B, T, ...) arrays (right-aligned: every window ends at T - 1),
    gather the course tables, move everything to the device in one copy each and run the
    shared network once for the whole batch. With `target`, the last row of each window is
    the answer to predict: it is left out of the support (weight 0)."""
    core = model.core
    b = len(windows)
    t = max(max(len(w.items) for w in windows), 1)
    k = max(w.skills.shape[1] for w in windows)
    g = windows[0].glob.shape[1]
    s = max([1] + [int(w.skill_ids.size) for w in windows])
    items = np.zeros((b, t), dtype=np.int64)
    skills = np.zeros((b, t, k), dtype=np.int64)
    local = np.zeros((b, t, k), dtype=np.int64)
    counts = np.zeros((b, t, k, 2), dtype=np.float32)
    glob = np.zeros((b, t, g), dtype=np.float32)
    y = np.zeros((b, t), dtype=np.float32)
    mask = np.zeros((b, t), dtype=np.float32)
    for i, win in enumerate(windows):
        n, kk = len(win.items), win.skills.shape[1]
        sl = slice(t - n, t)
        items[i, sl], skills[i, sl, :kk], local[i, sl, :kk] = win.items, win.skills, win.local
        counts[i, sl, :kk], glob[i, sl], y[i, sl] = win.counts, win.glob, win.correct
        mask[i, sl] = 1.0
    age = np.arange(t - 1, -1, -1, dtype=np.float32) - (1.0 if target else 0.0)
    if target:
        mask_s = mask.copy()
        mask_s[:, -1] = 0.0
    else:
        mask_s = mask
    view = tables.gather(items, skills, _stated(items, item_priors))
    dev = model.device

    def put(a: np.ndarray, dtype: torch.dtype | None = None) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(a))
        return x.to(dev, dtype=dtype) if dtype is not None else x.to(dev)

    f32 = torch.float32
    sk = put(local)
    with torch.no_grad():
        tab = TableInputs(put(view.diff, f32), put(view.slope, f32), put(view.emb, f32))
        base = core.base_logits(tab, put(counts), sk, put(glob))
        oh = skill_onehot(sk, s)
        q = core.design(oh, tab.emb)
        ag = put(np.maximum(age, 0.0))
        # Zero weight on padding: it adds nothing to the inner loss or the Laplace precision.
        w = torch.exp(-core.decay() * ag) * put(mask_s)
    return {"base": base, "q": q, "y": put(y), "w": w, "n_skills": torch.tensor(s),
            "oh": oh, "emb": tab.emb, "items": put(items), "age": ag, "mask": put(mask_s)}


def _fast(model: Model, sup: dict[str, torch.Tensor], single: bool
          ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    core, cfg = model.core, model.net.cfg
    s = int(sup["n_skills"])
    with torch.no_grad():
        fast0 = {k: v.detach() for k, v in core.init_fast(s).items()}
        lrs = {k: v.detach() for k, v in core.inner_lrs(s).items()}
    base, q, y, w = sup["base"], sup["q"], sup["y"], sup["w"]
    if cfg.algo == "proto":
        with torch.no_grad():
            f = core.prototype_fast(base, q, y, w.unsqueeze(1), s)
        fast = {"theta": f["theta"][:, 0], "alpha": f["alpha"][:, 0]}
    elif single:
        one = adapt_single(fast0, lrs, base[0], q[0], y[0], w[0], cfg.inner_steps)
        fast = {k: v.unsqueeze(0) for k, v in one.items()}
    else:
        # Hand-batched (one autograd call for all students: their losses are summed and
        # each owns its fast weights); on the CPU much cheaper than vmap for small batches.
        f = adapt_prefix(fast0, lrs, base, q, y, w.unsqueeze(1), cfg.inner_steps, True)
        fast = {"theta": f["theta"][:, 0], "alpha": f["alpha"][:, 0]}
    with torch.no_grad():
        fast = {k: v.detach() for k, v in fast.items()}
        var = laplace_variance(fast, base, q, w, cfg.prior_precision)
    return ({k: v.cpu() for k, v in fast.items()}, {k: v.cpu() for k, v in var.items()})


def _state(model: Model, fast: dict, var: dict, i: int, win: Window, s: int
           ) -> StudentState:
    n = int(win.skill_ids.size)
    a, va = fast["alpha"][i], var["alpha"][i]
    keep = torch.cat([a[: n + 1], a[s + 1:]]).tolist()
    keep_v = torch.cat([va[: n + 1], va[s + 1:]]).tolist()
    return StudentState(float(fast["theta"][i].reshape(-1)[0]), keep,
                        float(var["theta"][i].reshape(-1)[0]), keep_v, win.state.to_dict(),
                        win.n_answers, model.version, win.skills.tolist(),
                        win.correct.astype(int).tolist(), win.items.tolist(),
                        win.skill_ids.tolist())


def adapt_windows(model: Model, windows: list[Window], tables: CourseTables | None = None,
                  item_priors: Mapping[int, float] | None = None,
                  single: bool = False) -> list[StudentState]:
    """The device part of `adapt_batch`, from histories already featurised on the CPU."""
    if not windows:
        return []
    tabs = _tables_for(model, tables)
    sup = _supports(model, windows, tabs, item_priors)
    fast, var = _fast(model, sup, single)
    s = int(sup["n_skills"])
    with _no_gc():
        return [_state(model, fast, var, i, w, s) for i, w in enumerate(windows)]


def adapt(model: Model, history: Sequence[Interaction], tables: CourseTables | None = None,
          item_priors: Mapping[int, float] | None = None) -> StudentState:
    """A few inner gradient steps (or the prototype assignment) from the core's init."""
    return adapt_windows(model, [_window(model, history)], tables, item_priors, single=True)[0]


def adapt_batch(model: Model, histories: Sequence[Sequence[Interaction]],
                tables: CourseTables | None = None,
                item_priors: Mapping[int, float] | None = None,
                starts: Sequence[ResumePoint | None] | None = None,
                windows: Sequence[Window | None] | None = None) -> list[StudentState]:
    """One batched (vmapped) adaptation for many students; on CUDA when the model is. With
    `starts`, a history that has a resume point is its answers after it. `windows`: the
    histories already featurised by `history_windows` (None where not)."""
    if not histories:
        return []
    return adapt_windows(model, _given(model, histories, starts, windows, 0), tables,
                         item_priors)


def _given(model: Model, histories: Sequence[Sequence[Interaction]],
           starts: Sequence[ResumePoint | None] | None,
           windows: Sequence[Window | None] | None, extra: int) -> list[Window]:
    """The windows of `histories`: those given (from `history_windows`) and the rest
    featurised here."""
    if windows is None:
        return _windows(model, histories, extra, starts)
    rest = [i for i, w in enumerate(windows) if w is None]
    made = dict(zip(rest, _windows(model, [histories[i] for i in rest], extra,
                                   [starts[i] for i in rest] if starts is not None else None),
                    strict=True))
    return [made[i] if w is None else (w if extra else _less_extra(model, w))
            for i, w in enumerate(windows)]


@dataclass
class NextAnswer:
    """What `predict_next` says of the newest answer of each history."""

    p: np.ndarray  # (B,) calibrated P(correct), from the answers before it only
    log_wins: list[list[float]]  # log(1 + wins) on each of the answer's skills before it
    log_fails: list[list[float]]


@torch.no_grad()
def predict_next(model: Model, histories: Sequence[Sequence[Interaction]],
                 tables: CourseTables | None = None,
                 item_priors: Mapping[int, float] | None = None,
                 starts: Sequence[ResumePoint | None] | None = None,
                 windows: Sequence[Window | None] | None = None) -> NextAnswer:
    """For each (non-empty) history, the prediction of its last answer from the answers
    before it: equal to adapt(history[:-1]) + predict(last item), for a whole batch at once
    (the last answer's features are read before its answer, as in training). `starts` and
    `windows` as in `adapt_batch`."""
    if not histories:
        return NextAnswer(np.zeros(0), [], [])
    core, cfg = model.core, model.net.cfg
    tabs = _tables_for(model, tables)
    wins = _given(model, histories, starts, windows, 1)
    sup = _supports(model, wins, tabs, item_priors, target=True)
    s = int(sup["n_skills"])
    fast0 = {k: v.detach() for k, v in core.init_fast(s).items()}
    lrs = {k: v.detach() for k, v in core.inner_lrs(s).items()}
    base, q, y, w = sup["base"], sup["q"], sup["y"], sup["w"]
    if cfg.algo == "proto":
        fast = core.prototype_fast(base, q, y, w.unsqueeze(1), s)
    else:
        with torch.enable_grad():
            fast = adapt_prefix(fast0, lrs, base, q, y, w.unsqueeze(1), cfg.inner_steps, True)
    oh, emb, items = sup["oh"], sup["emb"], sup["items"]
    age = sup["age"].expand_as(w).unsqueeze(1)
    att = core.attention(oh[:, -1:], oh, items[:, -1:], items, emb[:, -1:], emb, y, age,
                         (sup["mask"] > 0).unsqueeze(1))
    z = base[:, -1] + fast["theta"][:, 0, 0] + (fast["alpha"][:, 0] * q[:, -1]).sum(-1) \
        + att[:, 0]
    p = torch.sigmoid(core.calibrate(z)).cpu().numpy().astype(np.float64)
    lw, lf = [], []
    for win in wins:
        real = win.skills[-1] > 0
        c = win.counts[-1][real]
        lw.append(c[:, 0].astype(np.float64).tolist())
        lf.append(c[:, 1].astype(np.float64).tolist())
    return NextAnswer(p, lw, lf)


# -- predictions on a bank ----------------------------------------------------------------------
@dataclass(frozen=True)
class PreparedBank:
    """A bank's items as the arrays every prediction on it needs, built once."""

    items: list[Item]
    ids: np.ndarray  # (N,) course item ids
    skills: np.ndarray  # (N, K) course skill ids, 0 = padding
    prior: np.ndarray  # (N,) difficulty_prior in logits, NaN where none

    def __len__(self) -> int:
        return len(self.items)

    @cached_property
    def skill_groups(self) -> tuple[np.ndarray, np.ndarray]:
        """(the distinct skill rows, each question's row among them)."""
        rows, inverse = np.unique(self.skills, axis=0, return_inverse=True)
        return rows, inverse.reshape(-1)

    def subset(self, rows: np.ndarray) -> PreparedBank:
        """The questions at `rows`, with their skill groups taken from this bank's (a 1-D
        unique instead of sorting the skill rows again: a shortlist is made per event)."""
        groups, inverse = self.skill_groups
        used, inv = np.unique(inverse[rows], return_inverse=True)
        sub = PreparedBank([self.items[r] for r in rows.tolist()], self.ids[rows],
                           self.skills[rows], self.prior[rows])
        sub.__dict__["skill_groups"] = (groups[used], inv.reshape(-1))
        return sub

    def priors(self) -> dict[int, float]:
        """Item id -> stated difficulty, for the items that have one (built once per bank:
        every event on the bank asks for it)."""
        return self._priors

    @cached_property
    def _priors(self) -> dict[int, float]:
        return {int(i): float(p) for i, p in zip(self.ids.tolist(), self.prior.tolist(),
                                                 strict=True) if not math.isnan(p)}


def prepare_bank(model: Model, items: Sequence[Item] | PreparedBank) -> PreparedBank:
    if isinstance(items, PreparedBank):
        return items
    n = len(items)
    ids = np.fromiter((it.id for it in items), dtype=np.int64, count=n)
    raw = [it.skills for it in items]
    widths = np.fromiter(map(len, raw), dtype=np.int64, count=n)
    flat = np.fromiter(chain.from_iterable(raw), dtype=np.int64, count=int(widths.sum()))
    # Padding zeros in an item's skills are dropped (rare: only then the slower path).
    lists: Sequence[Sequence[int]] = raw
    if (flat <= 0).any():
        lists = [tuple(k for k in it.skills if k > 0) for it in items]
        widths = np.fromiter(map(len, lists), dtype=np.int64, count=n)
    skills = np.zeros((n, max(model.net.cfg.max_skills, int(widths.max(initial=0)))),
                      dtype=np.int64)
    rows = np.repeat(np.arange(n), widths)
    slots = np.arange(len(rows)) - np.repeat(np.cumsum(widths) - widths, widths)
    skills[rows, slots] = np.fromiter(chain.from_iterable(lists), dtype=np.int64,
                                      count=len(rows))
    prior = np.array([np.nan if it.difficulty_prior is None else it.difficulty_prior
                      for it in items], dtype=np.float64)
    return PreparedBank(list(items), ids, skills, prior)


def _extended_index(state: StudentState, skills: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local index of `skills` (course ids) over the state's skills then the new ones."""
    known = np.asarray(state.skill_ids, dtype=np.int64)
    new = np.setdiff1d(np.unique(skills[skills > 0]), known)
    ids = np.concatenate([known, new])
    order = np.argsort(ids)
    pos = np.searchsorted(ids[order], skills)
    pos = np.minimum(pos, max(ids.size - 1, 0))
    local = np.where(skills > 0, order[pos] + 1 if ids.size else 0, 0)
    return ids, local


def _extend(st: FeatureState, n: int) -> FeatureState:
    extra = n - st.n_skills
    if extra <= 0:
        return st
    return FeatureState(n, wins=st.wins + [0.0] * extra, fails=st.fails + [0.0] * extra,
                        ewins=st.ewins + [0.0] * extra, efails=st.efails + [0.0] * extra,
                        last=st.last + [0.0] * extra, last_seen=st.last_seen + [-1] * extra,
                        item_wins=st.item_wins, item_fails=st.item_fails,
                        total_wins=st.total_wins, total_fails=st.total_fails,
                        last_answer=st.last_answer, g_ewins=st.g_ewins, g_efails=st.g_efails,
                        n=st.n)


@torch.no_grad()
def predict_logits(model: Model, state: StudentState, ids: np.ndarray, skills: np.ndarray,
                   prior: np.ndarray | None = None, tables: CourseTables | None = None,
                   overrides: Mapping[int, float] | None = None, use_items: bool = True
                   ) -> np.ndarray:
    """Calibrated logits for candidate items given as arrays: ids (N,) and skills (N, K) in
    course ids, prior (N,) stated difficulties (NaN where none). Every row is computed on
    its own (a whole bank is cheaper through `bank_logits`)."""
    core, dev = model.core, model.device
    tabs = _tables_for(model, tables)
    ids = np.asarray(ids, dtype=np.int64)
    skills = np.asarray(skills, dtype=np.int64)
    feat_ids = ids if use_items else np.zeros_like(ids)
    sk_ids, local = _extended_index(state, skills)
    n_ext, n = int(sk_ids.size), len(state.skill_ids)
    st = _extend(state.feature_state(), n_ext)
    g, cnt = st.bank_features(feat_ids, local)
    view = tabs.gather(ids, skills, prior, overrides, use_items)
    f32 = torch.float32

    def put(a: np.ndarray, dtype: torch.dtype | None = f32) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).to(dev, dtype=dtype)

    sk = put(local, None)
    tab = TableInputs(put(view.diff), put(view.slope), put(view.emb))
    base = core.base_logits(tab, put(cnt), sk, put(g))
    # The state's fast weights over its skills, the init for skills it never practised.
    a = np.asarray(state.alpha, dtype=np.float32)
    alpha = np.concatenate([a[: n + 1], np.full(n_ext - n, core.alpha_unseen()), a[n + 1:]])
    oh = skill_onehot(sk, n_ext)
    q = core.design(oh, tab.emb)
    z = base + state.theta + q @ put(alpha)
    # Attention of every candidate over the stored recent answers (all strictly earlier).
    h = len(state.recent_correct)
    kk = max([1] + [len(r) for r in state.recent_skills])
    hs = np.zeros((h, kk), dtype=np.int64)
    for r, row in enumerate(state.recent_skills):
        hs[r, : len(row)] = row
    hi = np.asarray(state.recent_items, dtype=np.int64)
    _, h_local = _extended_index(state, hs)  # recent skills are among the state's own
    hview = tabs.gather(hi, hs, None, overrides, use_items)
    oh_h = skill_onehot(put(h_local, None), n_ext)
    age = torch.arange(h - 1, -1, -1, device=dev, dtype=z.dtype).unsqueeze(0)
    mask = torch.ones(1, h, dtype=torch.bool, device=dev)
    hi_t = put(hi if use_items else np.zeros_like(hi), None)
    z = z + core.attention(oh, oh_h, put(feat_ids, None), hi_t, tab.emb, put(hview.emb),
                           put(np.asarray(state.recent_correct, dtype=np.float32)), age, mask)
    return core.calibrate(z).cpu().numpy().astype(np.float64)


def bank_logits(model: Model, state: StudentState, bank: PreparedBank,
                tables: CourseTables | None = None,
                overrides: Mapping[int, float] | None = None, use_items: bool = True,
                extra: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """`predict_logits` of a whole bank without running the network on every question, and
    of `extra` skill rows (E, K) as questions without an id (a skill's average item, as
    `mastery` asks) in the same pass: (bank logits (N,), extra logits (E,)).

    For a question the student never answered, every term but its own difficulty depends
    only on its skills: the shared logit, the fast weights and the attention over the recent
    answers (whose only per-question relation, "same item", is false for it). So the network
    runs once per distinct skill row (a few dozen for 20,000 questions) and once per answered
    question; the rest is one subtraction (equal to the full pass, tested)."""
    tabs = _tables_for(model, tables)
    rows, inverse = bank.skill_groups
    n_rows, k = rows.shape
    ext = np.zeros((0, k), dtype=np.int64)
    if extra is not None and len(extra):
        ext = np.zeros((len(extra), k), dtype=np.int64)
        ext[:, : extra.shape[1]] = extra  # a skill row is at most as wide as the bank's
    again = np.zeros(0, dtype=np.int64)
    if use_items:
        st = state.features
        answered = set(map(int, st["item_wins"])) | set(map(int, st["item_fails"]))
        if answered:
            again = np.flatnonzero(np.isin(bank.ids, list(answered)))
    n_again = again.size
    ids = np.concatenate([np.zeros(n_rows, dtype=np.int64), bank.ids[again],
                          np.zeros(len(ext), dtype=np.int64)])
    prior = np.concatenate([np.full(n_rows, np.nan), bank.prior[again],
                            np.full(len(ext), np.nan)])
    z_all = predict_logits(model, state, ids, np.concatenate([rows, bank.skills[again], ext]),
                           prior, tabs, overrides, use_items)
    reps = z_all[:n_rows]
    a = float(model.core.calib_a)
    if use_items:
        own, _, _ = tabs.entry("item", bank.ids, bank.prior)
        if overrides:
            hit = np.isin(bank.ids, list(overrides))
            own = own.copy()
            own[hit] = [overrides[int(i)] for i in bank.ids[hit].tolist()]
        own = np.where(bank.ids > 0, own, 0.0)
    else:
        own = np.where(np.isnan(bank.prior), 0.0, bank.prior)
    z = reps[inverse] - a * own
    if n_again:
        z[again] = z_all[n_rows: n_rows + n_again]
    return z, z_all[n_rows + n_again:]


def apply_item_residuals(ids: np.ndarray, prior: np.ndarray,
                         item_residuals: Mapping[int, float] | None) -> np.ndarray:
    """The stated-difficulty column with online estimates (item id -> logit) put in place."""
    if not item_residuals:
        return prior
    out = prior.copy()
    for r, i in enumerate(ids.tolist()):
        v = item_residuals.get(int(i))
        if v is not None:
            out[r] = v
    return out


def predict(model: Model, state: StudentState, items: Sequence[Item] | PreparedBank,
            use_item_residuals: bool = True,
            item_residuals: Mapping[int, float] | None = None,
            tables: CourseTables | None = None) -> np.ndarray:
    """Calibrated P(correct) for each item now.

    An item the tables know nothing about is placed from its skills (and its
    `difficulty_prior`, logit units, harder = larger, where given); `item_residuals` (item id
    -> logit) replace an item's table value outright. `use_item_residuals=False` ignores the
    item table and item ids altogether (a bank whose ids mean other questions).
    """
    if not items:
        return np.zeros(0)
    bank = prepare_bank(model, items)
    z = predict_logits(model, state, bank.ids, bank.skills, bank.prior, tables,
                       item_residuals, use_item_residuals)
    return 1.0 / (1.0 + np.exp(-z))


@dataclass
class Mastery:
    """P(correct) on an average item of each skill now, with a 95% interval."""

    skills: np.ndarray  # (S,) skill ids
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    sd_logit: np.ndarray
    attempts: np.ndarray

    def index(self) -> dict[int, int]:
        return {int(k): i for i, k in enumerate(self.skills.tolist())}


def mastery_skills(skills: Sequence[int]) -> np.ndarray:
    """The skills a `mastery` of `skills` is about, in its order."""
    return np.asarray(sorted({int(k) for k in skills if k > 0}), dtype=np.int64)


def mastery(model: Model, state: StudentState, skills: Sequence[int] | None = None,
            tables: CourseTables | None = None, logits: np.ndarray | None = None) -> Mastery:
    """Mastery of `skills` (default: the tables' skills and the student's, sorted).

    The interval's variance adds the student's (diagonal Laplace of the fast weights) and the
    course's (the skill's and the bias's table variance): in a new course, a skill few
    students answered is uncertain for everyone. `logits`: the `predict_logits` of each
    skill's average item (id 0, that skill alone; in `mastery_skills` order), where the
    caller had them predicted in a pass of its own.
    """
    tabs = _tables_for(model, tables)
    if skills is None:
        known = tabs.base.columns["skill"].keys
        sk = np.union1d(known, np.asarray(state.skill_ids, dtype=np.int64))
    else:
        sk = mastery_skills(skills)
    z = logits if logits is not None else predict_logits(
        model, state, np.zeros(sk.size, dtype=np.int64), sk[:, None], tables=tabs)
    a = float(model.net.calib_a)
    n = len(state.skill_ids)
    va = np.asarray(state.var_alpha)
    r = model.net.cfg.rank
    pos = {k: i for i, k in enumerate(state.skill_ids)}
    prior_v = 1.0 / model.net.cfg.prior_precision
    v_alpha = np.array([va[pos[k] + 1] if k in pos else prior_v for k in sk.tolist()])
    view = tabs.gather(np.zeros(sk.size, dtype=np.int64), sk[:, None])
    emb = view.emb
    v_u = va[n + 1: n + 1 + r] if r else np.zeros(0)
    sd = np.sqrt(state.var_theta + v_alpha + (emb * emb) @ v_u + tabs.skill_variance(sk))
    sig = lambda x: 1.0 / (1.0 + np.exp(-x))  # noqa: E731
    att = state.attempts()
    attempts = np.array([att.get(int(k), 0) for k in sk.tolist()], dtype=np.int64)
    half = Z95 * abs(a) * sd * float(model.net.cfg.interval_scale)
    return Mastery(sk, sig(z), sig(z - half), sig(z + half), sd, attempts)


def logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))
