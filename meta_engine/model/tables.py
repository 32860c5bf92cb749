"""Per-course tables: everything of the model that is indexed by an item or a skill.

Kinds (all in the core's logit units, so a table is valid for one core version only):

    bias     one value per course: how hard the course is overall (harder = larger)
    skill    d_k per skill, relative to the bias
    item     b_i per item, relative to its skills (the quantity `Item.difficulty_prior` holds)
    slope_w  per-skill offset of the weight of log(1 + wins on the skill)
    slope_f  per-skill offset of the weight of log(1 + fails on the skill)
    emb      skill embeddings (relations between skills), rank r; only a course trained
             jointly with the core has them; a served course starts without (relation 0)

Two forms:
- `TableParams` (nn.Module): the tables of a course trained jointly with the core (meta-training
  across courses, or the in-domain model of a course).
- `CourseTables`: what the serving code reads for one course: an optional base (a jointly
  trained course's tables) plus online deltas, each entry a Gaussian (mean, precision).
  A served course starts from priors: an item's stated difficulty if any, else 0 (its skills
  place it); skills 0 around the course bias; prior sds are the core's (`MetisConfig`).

Online fitting (`answer_updates`): each answer moves every entry it touched by one assumed-
density-filtering step of a logistic observation with diagonal Gaussian entries (as Glicko /
TrueSkill-style raters do): with a_e = d logit / d entry, s2 = sum_e a_e^2 / P_e and
h = p (1 - p),

    mean_e      += (a_e / P_e) (correct - p) / (1 + h s2)
    precision_e += a_e^2 h / (1 + h s2)

where p is the calibrated prediction the core made for that answer *before* seeing it. The
updates are additive increments (they commute), returned per event so that a store can apply
them idempotently by event id (`TableStore`); `InMemoryTableStore` is the bench's and the
tests' store, the worker implements the same protocol on Redis.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch
from torch import nn

from meta_engine.model.core import TableInputs

KINDS = ("bias", "skill", "item", "slope_w", "slope_f")
CourseKey = tuple[str, str]  # (core version, course id): tables are in one core's units


# -- training form ----------------------------------------------------------------------------
class TableParams(nn.Module):
    """A course's tables as parameters, trained jointly with the core (dense ids 1..n)."""

    item_n: torch.Tensor
    skill_n: torch.Tensor

    def __init__(self, n_items: int, n_skills: int, rank: int) -> None:
        super().__init__()
        self.n_items, self.n_skills, self.rank = int(n_items), int(n_skills), int(rank)
        self.bias = nn.Parameter(torch.zeros(1))
        self.skill = nn.Parameter(torch.zeros(self.n_skills + 1))
        self.item = nn.Parameter(torch.zeros(self.n_items + 1))
        self.slope = nn.Parameter(torch.zeros(self.n_skills + 1, 2))
        self.emb = nn.Parameter(0.1 * torch.randn(self.n_skills + 1, rank))
        # Answers seen per entry in training: the precision of the trained value at serving.
        self.register_buffer("item_n", torch.zeros(self.n_items + 1))
        self.register_buffer("skill_n", torch.zeros(self.n_skills + 1))

    def gather(self, items: torch.Tensor, skills: torch.Tensor, drop_items: bool = False,
               drop_emb: bool = False) -> TableInputs:
        """Table inputs of interactions with items (...) and skills (..., K); ids beyond the
        tables (or 0) contribute nothing. `drop_*` hides a table (training for the case of a
        served course, where item residuals and relations start unknown)."""
        valid = (skills > 0) & (skills <= self.n_skills)
        sk = torch.where(valid, skills, torch.zeros_like(skills))
        vf = valid.to(self.skill.dtype)
        m = vf.sum(-1).clamp(min=1.0)
        d = (self.skill[sk] * vf).sum(-1) / m
        diff = self.bias + d
        if not drop_items:
            known = (items > 0) & (items <= self.n_items)
            diff = diff + torch.where(known, self.item[items.clamp(0, self.n_items)],
                                      torch.zeros((), dtype=diff.dtype, device=diff.device))
        slope = self.slope[sk] * vf.unsqueeze(-1)
        if drop_emb:
            emb = torch.zeros(*items.shape, self.rank, dtype=diff.dtype, device=diff.device)
        else:
            emb = (self.emb[sk] * vf.unsqueeze(-1)).sum(-2) / m.unsqueeze(-1)
        return TableInputs(diff, slope, emb)

    def penalty(self, items: torch.Tensor, skills: torch.Tensor, cfg) -> torch.Tensor:
        """L2 shrinkage of the entries used by a batch toward their priors (0)."""
        it = items[(items > 0) & (items <= self.n_items)]
        sk = skills[(skills > 0) & (skills <= self.n_skills)]
        out = cfg.l2_bias * (self.bias ** 2).sum()
        if it.numel():
            out = out + cfg.l2_item * (self.item[it] ** 2).mean()
        if sk.numel():
            out = out + cfg.l2_skill * (self.skill[sk] ** 2).mean() \
                + cfg.l2_slope * (self.slope[sk] ** 2).sum(-1).mean() \
                + cfg.l2_emb * (self.emb[sk] ** 2).sum(-1).mean()
        return out

    @torch.no_grad()
    def count(self, items: np.ndarray, skills: np.ndarray) -> None:
        """Add training answers to the per-entry counts (items (N,), skills (N, K))."""
        it = items[(items > 0) & (items <= self.n_items)]
        sk = skills[(skills > 0) & (skills <= self.n_skills)]
        self.item_n += torch.from_numpy(np.bincount(it, minlength=self.n_items + 1)
                                        ).to(self.item_n.dtype)
        self.skill_n += torch.from_numpy(np.bincount(sk, minlength=self.n_skills + 1)
                                         ).to(self.skill_n.dtype)


# -- serving form -----------------------------------------------------------------------------
@dataclass
class Column:
    """Entries of one kind keyed by id: sorted keys, their means and precisions."""

    keys: np.ndarray  # int64, sorted, unique
    mean: np.ndarray
    precision: np.ndarray
    n: np.ndarray

    @classmethod
    def empty(cls) -> Column:
        z = np.zeros(0)
        return cls(np.zeros(0, dtype=np.int64), z, z.copy(), z.copy())

    @classmethod
    def from_dict(cls, d: Mapping[int, Sequence[float]]) -> Column:
        if not d:
            return cls.empty()
        keys = np.fromiter(d.keys(), dtype=np.int64, count=len(d))
        vals = np.array(list(d.values()), dtype=np.float64).reshape(len(d), -1)
        o = np.argsort(keys)
        n = vals[o, 2] if vals.shape[1] > 2 else np.zeros(len(d))
        return cls(keys[o], vals[o, 0], vals[o, 1], n)

    def lookup(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(mean, precision, n, found) per id; 0 where not found."""
        ids = np.asarray(ids, dtype=np.int64)
        shape = ids.shape
        flat = ids.reshape(-1)
        if self.keys.size == 0:
            z = np.zeros(flat.shape[0])
            return (z.reshape(shape), z.reshape(shape), z.reshape(shape),
                    np.zeros(shape, dtype=bool))
        pos = np.minimum(np.searchsorted(self.keys, flat), self.keys.size - 1)
        hit = self.keys[pos] == flat
        out = [np.where(hit, a[pos], 0.0).reshape(shape)
               for a in (self.mean, self.precision, self.n)]
        return out[0], out[1], out[2], hit.reshape(shape)

    def __len__(self) -> int:
        return int(self.keys.size)


@dataclass(frozen=True)
class TableUpdate:
    """One answer's increment of one table entry (commutes with every other increment)."""

    event_id: str
    kind: str
    key: int
    d_mean: float
    d_precision: float

    def to_dict(self) -> dict:
        return {"event_id": self.event_id, "kind": self.kind, "key": self.key,
                "d_mean": self.d_mean, "d_precision": self.d_precision}

    @classmethod
    def from_dict(cls, d: Mapping) -> TableUpdate:
        return cls(str(d["event_id"]), str(d["kind"]), int(d["key"]), float(d["d_mean"]),
                   float(d["d_precision"]))


@dataclass
class TableDeltas:
    """What a course has learned online: per kind, key -> [d_mean, d_precision, answers]."""

    entries: dict[str, dict[int, list[float]]] = field(
        default_factory=lambda: {k: {} for k in KINDS})

    def add(self, updates: Iterable[TableUpdate]) -> None:
        for u in updates:
            e = self.entries.setdefault(u.kind, {}).setdefault(u.key, [0.0, 0.0, 0.0])
            e[0] += u.d_mean
            e[1] += u.d_precision
            e[2] += 1.0

    def copy(self) -> TableDeltas:
        return TableDeltas({k: {i: list(v) for i, v in d.items()}
                            for k, d in self.entries.items()})

    def to_dict(self) -> dict:
        return {k: {str(i): v for i, v in d.items()} for k, d in self.entries.items()}

    @classmethod
    def from_dict(cls, d: Mapping) -> TableDeltas:
        out = cls()
        for k, rows in d.items():
            out.entries[k] = {int(i): [float(x) for x in v] for i, v in rows.items()}
        return out


class TableStore(Protocol):
    """Where a course's online deltas live. `apply` must be idempotent by event id: an event
    whose updates were applied before is skipped (the worker redelivers)."""

    def load(self, key: CourseKey) -> TableDeltas: ...

    def apply(self, key: CourseKey, updates: Sequence[TableUpdate]) -> int: ...


class InMemoryTableStore:
    """`TableStore` in a dict (benchmarks, tests, single-process demos)."""

    def __init__(self) -> None:
        self.deltas: dict[CourseKey, TableDeltas] = {}
        self.applied: dict[CourseKey, set[str]] = {}

    def load(self, key: CourseKey) -> TableDeltas:
        return self.deltas.get(key, TableDeltas()).copy()

    def apply(self, key: CourseKey, updates: Sequence[TableUpdate]) -> int:
        """Apply the updates of every event not applied before; returns how many events."""
        seen = self.applied.setdefault(key, set())
        fresh = [u for u in updates if u.event_id not in seen]
        self.deltas.setdefault(key, TableDeltas()).add(fresh)
        events = {u.event_id for u in fresh}
        seen |= events
        return len(events)


@dataclass
class TablePriors:
    """Prior sd of an entry a course has no evidence on (the core's, in logit units)."""

    bias: float = 1.0
    skill: float = 1.0
    item: float = 1.0
    slope_w: float = 0.3
    slope_f: float = 0.3

    def precision(self, kind: str) -> float:
        return 1.0 / float(getattr(self, kind)) ** 2

    @classmethod
    def from_config(cls, cfg) -> TablePriors:
        return cls(cfg.prior_sd_bias, cfg.prior_sd_skill, cfg.prior_sd_item,
                   cfg.prior_sd_slope, cfg.prior_sd_slope)


@dataclass
class BaseTables:
    """A jointly trained course's tables in serving form (the prior of online fitting)."""

    columns: dict[str, Column]
    emb_keys: np.ndarray  # int64 sorted skill ids
    emb: np.ndarray  # (n, r)

    @classmethod
    def empty(cls, rank: int) -> BaseTables:
        return cls({k: Column.empty() for k in KINDS}, np.zeros(0, dtype=np.int64),
                   np.zeros((0, rank)))

    @classmethod
    def from_params(cls, tp: TableParams, priors: TablePriors, fisher: float = 0.2
                    ) -> BaseTables:
        """Trained entries with precision prior + `fisher` per training answer (p(1-p) of a
        typical answer); entries no training answer touched are left to the priors."""
        with torch.no_grad():
            item_n = tp.item_n.cpu().numpy()
            skill_n = tp.skill_n.cpu().numpy()
            it = np.flatnonzero(item_n > 0)
            sk = np.flatnonzero(skill_n > 0)
            sk = sk[sk > 0]
            it = it[it > 0]
            slope = tp.slope.detach().cpu().numpy().astype(np.float64)

            def col(keys: np.ndarray, mean: np.ndarray, n: np.ndarray, kind: str) -> Column:
                return Column(keys.astype(np.int64), mean.astype(np.float64),
                              priors.precision(kind) + fisher * n.astype(np.float64),
                              n.astype(np.float64))

            total = float(skill_n.sum())
            cols = {
                "bias": col(np.array([0]), tp.bias.detach().cpu().numpy(), np.array([total]),
                            "bias"),
                "skill": col(sk, tp.skill.detach().cpu().numpy()[sk], skill_n[sk], "skill"),
                "item": col(it, tp.item.detach().cpu().numpy()[it], item_n[it], "item"),
                "slope_w": col(sk, slope[sk, 0], skill_n[sk], "slope_w"),
                "slope_f": col(sk, slope[sk, 1], skill_n[sk], "slope_f"),
            }
            return cls(cols, sk.astype(np.int64),
                       tp.emb.detach().cpu().numpy().astype(np.float64)[sk])


@dataclass
class TableView:
    """Gathered table values for interactions, as numpy arrays (see `CourseTables.gather`)."""

    diff: np.ndarray  # (...,)
    diff_var: np.ndarray  # (...,) variance of diff (entries independent)
    slope: np.ndarray  # (..., K, 2)
    emb: np.ndarray  # (..., r)


class CourseTables:
    """One course's tables as serving reads them: base (trained, optional) + online deltas.

    Effective entry = prior mean (an item's stated difficulty, else the base's trained value,
    else 0) + delta mean; precision = (base precision, else the prior's) + delta precision.
    `overrides` (item id -> residual) replace an item's mean outright (the older
    `item_residuals` argument of predict/select); `use_items=False` ignores the item table.
    """

    def __init__(self, priors: TablePriors, base: BaseTables | None = None,
                 deltas: TableDeltas | None = None, rank: int = 0) -> None:
        self.priors = priors
        self.base = base if base is not None else BaseTables.empty(rank)
        self.rank = int(self.base.emb.shape[1])
        self.deltas = deltas if deltas is not None else TableDeltas()
        self._delta_cols = {k: Column.from_dict(self.deltas.entries.get(k, {})) for k in KINDS}

    def with_deltas(self, deltas: TableDeltas) -> CourseTables:
        return CourseTables(self.priors, self.base, deltas, self.rank)

    def with_updates(self, updates: Iterable[TableUpdate]) -> CourseTables:
        d = self.deltas.copy()
        d.add(updates)
        return self.with_deltas(d)

    def entry(self, kind: str, ids: np.ndarray, stated: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(mean, precision, answers) of entries `ids` of `kind`; `stated` (same shape, NaN
        where none) is an item's stated difficulty, the prior mean where given."""
        bm, bp, bn, bhit = self.base.columns[kind].lookup(ids)
        dm, dp, dn, _ = self._delta_cols[kind].lookup(ids)
        prior_mean = bm
        if stated is not None:
            prior_mean = np.where(np.isnan(stated), bm, stated)
        prec = np.where(bhit, bp, self.priors.precision(kind)) + dp
        return prior_mean + dm, prec, bn + dn

    def gather(self, items: np.ndarray, skills: np.ndarray, stated: np.ndarray | None = None,
               overrides: Mapping[int, float] | None = None, use_items: bool = True
               ) -> TableView:
        """Table values for interactions: items (...) and skills (..., K) in the course's own
        ids (0 = none), `stated` (...) an item's stated difficulty (NaN where none)."""
        items = np.asarray(items, dtype=np.int64)
        skills = np.asarray(skills, dtype=np.int64)
        valid = skills > 0
        vf = valid.astype(np.float64)
        m = np.maximum(vf.sum(-1), 1.0)
        bm, bp, _ = self.entry("bias", np.zeros(1, dtype=np.int64))
        sm, sp, _ = self.entry("skill", skills)
        diff = bm[0] + (sm * vf).sum(-1) / m
        var = 1.0 / bp[0] + (vf / sp).sum(-1) / (m * m)
        if use_items:
            im, ip, _ = self.entry("item", items, stated)
            if overrides:
                for pos in np.flatnonzero(np.isin(items.reshape(-1), list(overrides))):
                    idx = np.unravel_index(pos, items.shape)
                    im[idx] = overrides[int(items[idx])]
            has = items > 0
            diff = diff + np.where(has, im, 0.0)
            var = var + np.where(has, 1.0 / ip, 0.0)
        elif stated is not None:
            diff = diff + np.where(np.isnan(stated), 0.0, stated)
        ww, _, _ = self.entry("slope_w", skills)
        wf, _, _ = self.entry("slope_f", skills)
        slope = np.stack([ww, wf], axis=-1) * vf[..., None]
        emb = self.embedding(skills, vf, m)
        return TableView(diff, var, slope, emb)

    def embedding(self, skills: np.ndarray, vf: np.ndarray, m: np.ndarray) -> np.ndarray:
        r = self.rank
        keys = self.base.emb_keys
        if keys.size == 0 or r == 0:
            return np.zeros((*skills.shape[:-1], r))
        pos = np.minimum(np.searchsorted(keys, skills), keys.size - 1)
        hit = (keys[pos] == skills) & (vf > 0)
        e = np.where(hit[..., None], self.base.emb[pos], 0.0)
        return e.sum(-2) / m[..., None]

    def skill_variance(self, skills: np.ndarray) -> np.ndarray:
        """Variance of the difficulty of an average item of each skill (bias + skill)."""
        _, bp, _ = self.entry("bias", np.zeros(1, dtype=np.int64))
        _, sp, _ = self.entry("skill", np.asarray(skills, dtype=np.int64))
        return 1.0 / bp[0] + 1.0 / sp


def answer_updates(tables: CourseTables, event_id: str, item: int, skills: Sequence[int],
                   log_wins: Sequence[float], log_fails: Sequence[float], p: float,
                   correct: int, slope_a: float, stated: float | None = None,
                   use_items: bool = True) -> list[TableUpdate]:
    """The increments of every entry one answer touched (see the module doc). `log_wins` /
    `log_fails`: log(1 + wins/fails) on each of `skills` before the answer; `slope_a` the
    Platt slope (d calibrated logit / d raw logit); p the calibrated prediction made before
    the answer."""
    sk = [int(k) for k in skills if int(k) > 0]
    m = max(len(sk), 1)
    rows: list[tuple[str, int, float]] = [("bias", 0, -1.0)]
    rows += [("skill", k, -1.0 / m) for k in sk]
    if item and use_items:
        rows.append(("item", int(item), -1.0))
    for k, lw, lf in zip(sk, log_wins, log_fails, strict=False):
        if lw > 0:
            rows.append(("slope_w", k, float(lw) / m))
        if lf > 0:
            rows.append(("slope_f", k, float(lf) / m))
    precs = []
    for kind, key, _ in rows:
        st = None
        if kind == "item" and stated is not None:
            st = np.array([stated], dtype=np.float64)
        _, prec, _ = tables.entry(kind, np.array([key], dtype=np.int64), st)
        precs.append(float(prec[0]))
    p = min(max(float(p), 1e-6), 1 - 1e-6)
    h = p * (1 - p)
    a = [slope_a * g for _, _, g in rows]
    s2 = sum(ai * ai / pr for ai, pr in zip(a, precs, strict=True))
    denom = 1.0 + h * s2
    resid = float(correct) - p
    return [TableUpdate(event_id, kind, key, ai / pr * resid / denom, ai * ai * h / denom)
            for (kind, key, _), ai, pr in zip(rows, a, precs, strict=True)]


def online_difficulties(sequences: Sequence, priors: TablePriors, concurrency: int = 16,
                        k_ability: float = 0.8, b_ability: float = 0.05) -> list[np.ndarray]:
    """For every answer of a course's students, the difficulty (bias + mean skill + item) the
    course's tables would hold just before it if the course were served as a new one:
    students arrive in order, `concurrency` at a time, and every answer moves the entries by
    the update of `answer_updates` with a proxy prediction sigmoid(ability - difficulty),
    the ability an Elo rating of the student (K = k / (1 + b n)). Used to train the core in
    the regime it serves new courses in (`MetisConfig.online_tables`)."""
    seqs = list(sequences)
    out = [np.zeros(len(s), dtype=np.float32) for s in seqs]
    mean: dict[tuple[str, int], float] = {}
    prec: dict[tuple[str, int], float] = {}
    p0 = {k: priors.precision(k) for k in ("bias", "skill", "item")}
    active: list[list[int]] = []
    nxt = 0
    theta: dict[int, float] = {}
    answers: dict[int, int] = {}
    while nxt < len(seqs) or active:
        while len(active) < concurrency and nxt < len(seqs):
            if len(seqs[nxt]):
                active.append([nxt, 0])
            nxt += 1
        if not active:
            break
        pending = []
        for s, t in active:
            q = seqs[s]
            sk = [int(k) for k in q.skills[t] if k > 0]
            m = max(len(sk), 1)
            item = int(q.items[t])
            rows = [("bias", 0, -1.0)] + [("skill", k, -1.0 / m) for k in sk]
            if item:
                rows.append(("item", item, -1.0))
            diff = sum(mean.get((kd, key), 0.0) * (-g) for kd, key, g in rows)
            out[s][t] = diff
            pending.append((s, int(q.correct[t]), rows, diff))
        for s, c, rows, diff in pending:
            th = theta.get(s, 0.0)
            p = min(max(1.0 / (1.0 + np.exp(-(th - diff))), 1e-6), 1 - 1e-6)
            h = p * (1 - p)
            pr = [prec.get((kd, key), p0[kd]) for kd, key, _ in rows]
            s2 = sum(g * g / x for (_, _, g), x in zip(rows, pr, strict=True))
            for (kd, key, g), x in zip(rows, pr, strict=True):
                mean[(kd, key)] = mean.get((kd, key), 0.0) + g / x * (c - p) / (1 + h * s2)
                prec[(kd, key)] = x + g * g * h / (1 + h * s2)
            cnt = answers.get(s, 0)
            theta[s] = th + k_ability / (1 + b_ability * cnt) * (c - p)
            answers[s] = cnt + 1
        for a in active:
            a[1] += 1
        active = [a for a in active if a[1] < len(seqs[a[0]])]
    return out
