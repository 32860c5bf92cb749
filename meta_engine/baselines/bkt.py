"""Bayesian Knowledge Tracing (Corbett & Anderson 1995), one HMM per skill, fit by EM.

Per skill: P(L0) initial mastery, P(T) learning, P(G) guess, P(S) slip, no forgetting. Every
(student, skill) history is a separate chain. A multi-skill interaction is an observation for
each of its skills (all see the same answer, the usual expansion), and its prediction is the
*mean* of its skills' predictive probabilities: a product would assume conjunctive skills and
push multi-skill items towards 0, which the data do not support. Guess and slip are bounded by
``max_guess`` / ``max_slip`` as is customary, to keep "known" the better state.

Chains are packed time-major with longest first (like a PackedSequence), so each EM pass is a
loop over time steps with numpy over the chains still active at that step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from meta_engine.baselines.common import flatten
from meta_engine.types import Dataset


@dataclass
class _Packed:
    order: np.ndarray  # pair index of each observation, in (chain, time) order
    steps: list[np.ndarray]  # per time step: observation indices, chains longest-first
    skill: np.ndarray  # per observation
    y: np.ndarray  # per observation, float


def _pack(seq: np.ndarray, pos: np.ndarray, skill: np.ndarray, y: np.ndarray) -> _Packed:
    n_keys = int(skill.max(initial=0)) + 1
    grp = seq * n_keys + skill
    order = np.lexsort((pos, grp))
    g = grp[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]]) if g.size else np.zeros(0, np.int64)
    lens = np.diff(np.r_[starts, g.size])
    by_len = np.argsort(-lens, kind="stable")
    s_starts, s_lens = starts[by_len], lens[by_len]
    t_max = int(s_lens.max(initial=0))
    # n_active[t] chains are longer than t; they are a prefix because chains are longest-first.
    n_active = np.searchsorted(-s_lens, -np.arange(t_max), side="left")
    steps = [s_starts[: int(n_active[t])] + t for t in range(t_max)]
    return _Packed(order, steps, skill[order], y[order].astype(np.float64))


class BKT:
    name = "bkt"

    def __init__(
        self,
        n_iter: int = 100,
        tol: float = 1e-6,
        max_guess: float = 0.3,
        max_slip: float = 0.3,
    ) -> None:
        self.n_iter, self.tol = n_iter, tol
        self.max_guess, self.max_slip = max_guess, max_slip
        self.params = np.tile([0.4, 0.1, 0.2, 0.1], (1, 1))  # rows: skill; L0, T, G, S
        self.global_rate = 0.5

    def _forward(self, pk: _Packed, prm: np.ndarray) -> tuple[np.ndarray, ...]:
        l0, tr, gu, sl = (prm[pk.skill, j] for j in range(4))
        n = pk.y.size
        prior, alpha, c = np.empty(n), np.empty(n), np.empty(n)
        e_k = np.where(pk.y == 1, 1 - sl, sl)
        e_u = np.where(pk.y == 1, gu, 1 - gu)
        for t, ix in enumerate(pk.steps):
            if t == 0:
                pr = l0[ix]
            else:
                a = alpha[ix - 1]
                pr = a + (1 - a) * tr[ix]
            prior[ix] = pr
            c[ix] = pr * e_k[ix] + (1 - pr) * e_u[ix]
            alpha[ix] = pr * e_k[ix] / c[ix]
        p_correct = prior * (1 - sl) + (1 - prior) * gu
        return prior, alpha, c, e_k, e_u, p_correct

    def _em_step(self, pk: _Packed, prm: np.ndarray) -> tuple[np.ndarray, float]:
        _, alpha, c, e_k, e_u, _ = self._forward(pk, prm)
        tr = prm[pk.skill, 1]
        n = pk.y.size
        b_u, b_k, xi = np.ones(n), np.ones(n), np.zeros(n)
        for t in range(len(pk.steps) - 2, -1, -1):
            nxt = pk.steps[t + 1]
            ix = pk.steps[t][: nxt.size]  # chains that continue to t+1
            wk = e_k[nxt] * b_k[nxt] / c[nxt]
            wu = e_u[nxt] * b_u[nxt] / c[nxt]
            b_k[ix] = wk
            b_u[ix] = (1 - tr[ix]) * wu + tr[ix] * wk
            xi[ix] = (1 - alpha[ix]) * tr[ix] * wk  # P(unknown at t, known at t+1 | all)
        g_k = alpha * b_k
        g_u = (1 - alpha) * b_u
        ns = prm.shape[0]
        first = pk.steps[0] if pk.steps else np.zeros(0, np.int64)
        has_next = np.zeros(n, dtype=bool)
        for t in range(len(pk.steps) - 1):
            has_next[pk.steps[t][: pk.steps[t + 1].size]] = True

        def tot(w: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
            sk = pk.skill if mask is None else pk.skill[mask]
            return np.bincount(sk, weights=w if mask is None else w[mask], minlength=ns)

        eps = 1e-9
        new = prm.copy()
        n_chains = np.bincount(pk.skill[first], minlength=ns)
        seen = n_chains > 0
        l0 = np.bincount(pk.skill[first], weights=g_k[first], minlength=ns)
        new[seen, 0] = l0[seen] / n_chains[seen]
        den_t = tot(g_u, has_next)
        new[:, 1] = np.where(den_t > eps, tot(xi, has_next) / np.maximum(den_t, eps), prm[:, 1])
        den_g, den_s = tot(g_u), tot(g_k)
        new[:, 2] = np.where(den_g > eps, tot(g_u * pk.y) / np.maximum(den_g, eps), prm[:, 2])
        new[:, 3] = np.where(den_s > eps, tot(g_k * (1 - pk.y)) / np.maximum(den_s, eps),
                             prm[:, 3])
        new[:, 0] = np.clip(new[:, 0], 1e-3, 1 - 1e-3)
        new[:, 1] = np.clip(new[:, 1], 1e-3, 1 - 1e-3)
        new[:, 2] = np.clip(new[:, 2], 1e-3, self.max_guess)
        new[:, 3] = np.clip(new[:, 3], 1e-3, self.max_slip)
        return new, float(np.log(c).sum())

    def fit(self, train: Dataset, valid: Dataset) -> None:
        f = flatten(train)
        self.global_rate = float(f.correct.mean()) if f.n else 0.5
        r, s = f.skill_pairs()
        ns = max(train.n_skills, int(s.max(initial=0))) + 1
        self.params = np.tile([0.4, 0.1, 0.2, 0.1], (ns, 1))
        pk = _pack(f.seq[r], f.pos[r], s, f.correct[r])
        prev = -np.inf
        for _ in range(self.n_iter):
            self.params, ll = self._em_step(pk, self.params)
            if ll - prev < self.tol * abs(ll):  # relative log-likelihood gain
                break
            prev = ll

    def predict(self, data: Dataset) -> list[np.ndarray]:
        f = flatten(data)
        r, s = f.skill_pairs()
        known = s < self.params.shape[0]
        r, s = r[known], s[known]  # skills never seen in training carry no information
        pk = _pack(f.seq[r], f.pos[r], s, f.correct[r])
        p_obs = self._forward(pk, self.params)[-1]
        p_pair = np.empty_like(p_obs)
        p_pair[pk.order] = p_obs
        tot = np.bincount(r, weights=p_pair, minlength=f.n)
        cnt = np.bincount(r, minlength=f.n)
        p = np.where(cnt > 0, tot / np.maximum(cnt, 1), self.global_rate)
        return f.split(np.clip(p, 1e-4, 1 - 1e-4))
