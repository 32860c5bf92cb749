"""History features of one student, computed strictly from earlier answers.

The same `FeatureState` produces the features of every interaction of a training sequence
(features are read *before* the answer is added) and the features of any candidate item at
"now" (for predictions on a practice bank), so training and serving cannot drift apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from meta_engine.types import PAD, Sequence

# Names of the global (non skill-indexed) features, in order.
GLOBAL_FEATURES = (
    "log_wins",  # log1p(total correct so far)
    "log_fails",  # log1p(total wrong so far)
    "last_answer",  # +1 / -1 / 0 (none)
    "last_on_skill",  # mean over the item's skills of the last answer on that skill
    "log_gap_skill",  # mean log1p(answers since the skill was last practised)
    "new_skill",  # mean indicator: skill never practised
    "log_item_wins",  # earlier attempts on this very item
    "log_item_fails",
    "skill_rate_recent",  # exponentially decayed (wins - fails) / (n + 1) on the skills
    "rate_recent",  # same over all answers
    "extra_skills",  # number of skills - 1 (multi-skill items are harder)
)
N_GLOBAL = len(GLOBAL_FEATURES)
SKILL_DECAY = 0.7  # per attempt on the skill: recent answers say most about current mastery
GLOBAL_DECAY = 0.8


@dataclass
class FeatureState:
    """Sufficient statistics of a history for the features (a function of the prefix only)."""

    n_skills: int
    wins: list[float] = field(default_factory=list)
    fails: list[float] = field(default_factory=list)
    ewins: list[float] = field(default_factory=list)
    efails: list[float] = field(default_factory=list)
    last: list[float] = field(default_factory=list)
    last_seen: list[int] = field(default_factory=list)
    item_wins: dict[int, int] = field(default_factory=dict)
    item_fails: dict[int, int] = field(default_factory=dict)
    total_wins: int = 0
    total_fails: int = 0
    last_answer: float = 0.0
    g_ewins: float = 0.0
    g_efails: float = 0.0
    n: int = 0

    def __post_init__(self) -> None:
        size = self.n_skills + 1
        for name in ("wins", "fails", "ewins", "efails", "last"):
            if not getattr(self, name):
                setattr(self, name, [0.0] * size)
        if not self.last_seen:
            self.last_seen = [-1] * size

    def features(self, item: int, skills: tuple[int, ...]) -> tuple[list[float], list[float]]:
        """(global features, flat [log wins, log fails] per skill) for an item now."""
        ks = [k for k in skills if 0 < k <= self.n_skills]
        m = max(len(ks), 1)
        last_s = gap = new = rate = 0.0
        counts: list[float] = []
        for k in ks:
            last_s += self.last[k]
            if self.last_seen[k] < 0:
                new += 1.0
            else:
                gap += math.log1p(self.n - self.last_seen[k])
            ew, ef = self.ewins[k], self.efails[k]
            rate += (ew - ef) / (ew + ef + 1.0)
            counts.append(math.log1p(self.wins[k]))
            counts.append(math.log1p(self.fails[k]))
        g = [
            math.log1p(self.total_wins),
            math.log1p(self.total_fails),
            self.last_answer,
            last_s / m,
            gap / m,
            new / m if ks else 1.0,
            math.log1p(self.item_wins.get(item, 0)) if item else 0.0,
            math.log1p(self.item_fails.get(item, 0)) if item else 0.0,
            rate / m,
            (self.g_ewins - self.g_efails) / (self.g_ewins + self.g_efails + 1.0),
            float(max(len(ks) - 1, 0)),
        ]
        return g, counts

    def update(self, item: int, skills: tuple[int, ...], correct: int) -> None:
        c = 1.0 if correct else 0.0
        sign = 1.0 if correct else -1.0
        for k in skills:
            if not 0 < k <= self.n_skills:
                continue
            self.wins[k] += c
            self.fails[k] += 1.0 - c
            self.ewins[k] = SKILL_DECAY * self.ewins[k] + c
            self.efails[k] = SKILL_DECAY * self.efails[k] + 1.0 - c
            self.last[k] = sign
            self.last_seen[k] = self.n
        if item:
            book = self.item_wins if correct else self.item_fails
            book[item] = book.get(item, 0) + 1
        self.total_wins += int(c)
        self.total_fails += int(1 - c)
        self.last_answer = sign
        self.g_ewins = GLOBAL_DECAY * self.g_ewins + c
        self.g_efails = GLOBAL_DECAY * self.g_efails + 1.0 - c
        self.n += 1

    # -- vectorised candidate features for a whole bank -------------------------------------
    def bank_features(
        self, items: np.ndarray, skills: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Features of many candidate items at once: items (N,), skills (N, K) padded with 0.

        Equals `features` item by item (tested); vectorised because a bank has ~1000 items and
        the latency budget is a few milliseconds.
        """
        valid = (skills > 0) & (skills <= self.n_skills)
        sk = np.where(valid, skills, 0)
        wins, fails = np.asarray(self.wins), np.asarray(self.fails)
        g = np.empty((items.shape[0], N_GLOBAL), dtype=np.float64)
        _global_features(
            g, valid, self.n, np.asarray(self.last)[sk], np.asarray(self.last_seen)[sk],
            np.asarray(self.ewins)[sk], np.asarray(self.efails)[sk],
            (self.total_wins, self.total_fails, self.last_answer, self.g_ewins, self.g_efails),
            _lookup(self.item_wins, items), _lookup(self.item_fails, items))
        vf = valid.astype(np.float64)
        cnt = np.stack([np.log1p(wins[sk]) * vf, np.log1p(fails[sk]) * vf], axis=-1)
        return g, cnt

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["item_wins"] = {str(k): v for k, v in self.item_wins.items()}
        d["item_fails"] = {str(k): v for k, v in self.item_fails.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> FeatureState:
        d = dict(d)
        d["item_wins"] = {int(k): int(v) for k, v in d["item_wins"].items()}
        d["item_fails"] = {int(k): int(v) for k, v in d["item_fails"].items()}
        return cls(**d)


def _global_features(out: np.ndarray, valid: np.ndarray, n: int, last: np.ndarray,
                     seen: np.ndarray, ewins: np.ndarray, efails: np.ndarray,
                     totals: tuple, item_wins: np.ndarray, item_fails: np.ndarray) -> None:
    """`FeatureState.features`'s global features for many rows at once, into `out` (R, G):
    the per-skill statistics come gathered for each row's skills (R, K) with `valid` marking
    real skills; `totals` (wins, fails, last answer, decayed wins, decayed fails) are scalars
    or (R,) arrays; `n` answers so far. One formula for the bank and the batch paths."""
    tot_w, tot_f, last_ans, g_ew, g_ef = totals
    vf = valid.astype(np.float64)
    nk = valid.sum(1)
    m = np.maximum(nk, 1).astype(np.float64)
    never = (seen < 0) & valid
    gap = np.where(valid & ~never, np.log1p(n - seen), 0.0)
    rate = np.where(valid, (ewins - efails) / (ewins + efails + 1.0), 0.0)
    out[:, 0] = np.log1p(tot_w)
    out[:, 1] = np.log1p(tot_f)
    out[:, 2] = last_ans
    out[:, 3] = (last * vf).sum(1) / m
    out[:, 4] = gap.sum(1) / m
    out[:, 5] = np.where(nk > 0, never.sum(1) / m, 1.0)
    out[:, 6] = np.log1p(item_wins)
    out[:, 7] = np.log1p(item_fails)
    out[:, 8] = rate.sum(1) / m
    out[:, 9] = (g_ew - g_ef) / (g_ew + g_ef + 1.0)
    out[:, 10] = np.maximum(nk - 1, 0)


def _lookup(counts: dict[int, int], items: np.ndarray) -> np.ndarray:
    """counts[item] for each item (0 when absent or item 0), without a Python loop over the
    bank: a student's count table holds at most their history, a bank can hold thousands."""
    out = np.zeros(items.shape[0], dtype=np.float64)
    if not counts:
        return out
    keys = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
    vals = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
    order = np.argsort(keys)
    keys, vals = keys[order], vals[order]
    pos = np.minimum(np.searchsorted(keys, items), len(keys) - 1)
    hit = (keys[pos] == items) & (items != 0)
    out[hit] = vals[pos[hit]]
    return out


@dataclass
class SequenceFeatures:
    """Per-interaction features of one sequence (each from strictly earlier answers)."""

    items: np.ndarray  # (L,) int64
    skills: np.ndarray  # (L, K) int64
    counts: np.ndarray  # (L, K, 2) float32
    glob: np.ndarray  # (L, G) float32
    correct: np.ndarray  # (L,) float32


def featurize(
    items: np.ndarray, skills: np.ndarray, correct: np.ndarray, n_skills: int,
    state: FeatureState | None = None, from_row: int = 0,
) -> tuple[SequenceFeatures, FeatureState]:
    """Features of each interaction read before its own answer is added to the state.

    Rows before `from_row` only advance the state (their features are left zero): serving
    reads the features of the last window of answers alone, and reading them costs about
    twice what advancing the state does."""
    st = state if state is not None else FeatureState(n_skills)
    L, K = skills.shape
    glob = np.zeros((L, N_GLOBAL), dtype=np.float32)
    counts = np.zeros((L, K, 2), dtype=np.float32)
    sk_rows = skills.tolist()
    it_rows = items.tolist()
    y_rows = correct.tolist()
    for t in range(L):
        row = tuple(k for k in sk_rows[t] if k != PAD)
        if t < from_row:
            st.update(it_rows[t], row, y_rows[t])
            continue
        g, c = st.features(it_rows[t], row)
        glob[t] = g
        j = 0
        for slot, k in enumerate(sk_rows[t]):
            if 0 < k <= n_skills:
                counts[t, slot, 0] = c[2 * j]
                counts[t, slot, 1] = c[2 * j + 1]
                j += 1
        st.update(it_rows[t], row, y_rows[t])
    feats = SequenceFeatures(
        items=np.asarray(items, dtype=np.int64),
        skills=np.asarray(skills, dtype=np.int64),
        counts=counts,
        glob=glob,
        correct=np.asarray(correct, dtype=np.float32),
    )
    return feats, st


def _item_counts_before(items: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Right and wrong earlier answers to the same item, for each (row, t) of padded (B, L)
    arrays (0 for item 0): one sort instead of a dictionary walk per student."""
    b, n = items.shape
    if n == 0:
        return np.zeros((b, 0)), np.zeros((b, 0))
    flat_items = items.reshape(-1)
    rows = np.repeat(np.arange(b), n)
    order = np.lexsort((np.tile(np.arange(n), b), flat_items, rows))
    c = correct.reshape(-1)[order]
    same = (rows[order][1:] == rows[order][:-1]) & (flat_items[order][1:] == flat_items[order][:-1])
    start = np.concatenate([[True], ~same])
    first = np.flatnonzero(start)
    group = np.cumsum(start) - 1
    before = np.cumsum(c) - c  # right answers before this position, whole array
    wins = before - before[first][group]
    seen = np.arange(len(order)) - first[group]
    out_w = np.empty(len(order))
    out_f = np.empty(len(order))
    out_w[order] = wins
    out_f[order] = seen - wins
    known = flat_items != 0
    return (np.where(known, out_w, 0.0).reshape(b, n), np.where(known, out_f, 0.0).reshape(b, n))


def featurize_batch(histories: list[tuple[np.ndarray, np.ndarray, np.ndarray]], n_skills: int
                    ) -> list[tuple[SequenceFeatures, FeatureState]]:
    """`featurize` for many (items, skills, correct) histories at once, equal to it (tested).

    The per-answer Python loop of `featurize` costs about 6 us an answer; here each time step
    is one set of array operations over every student still answering. What is left per
    student is building its FeatureState, so from a few hundred histories on this costs about
    half of `featurize` (and more below 32). Histories are sorted longest first, so the
    students still active at step t are always a leading slice of the arrays.
    """
    if not histories:
        return []
    lengths = np.array([len(h[0]) for h in histories])
    order = np.argsort(-lengths, kind="stable")
    b, n = len(histories), int(lengths.max())
    k = max(h[1].shape[1] for h in histories)
    items = np.zeros((b, n), dtype=np.int64)
    skills = np.zeros((b, n, k), dtype=np.int64)
    correct = np.zeros((b, n), dtype=np.float64)
    for r, j in enumerate(order):
        it, sk, y = histories[j]
        items[r, : len(it)] = it
        skills[r, : len(it), : sk.shape[1]] = sk
        correct[r, : len(it)] = np.asarray(y) != 0  # as `featurize` reads it: right or not
    valid = (skills > 0) & (skills <= n_skills)
    sk_ok = np.where(valid, skills, 0)  # column 0 is a scratch slot that no feature reads
    s1 = n_skills + 1
    wins, fails = np.zeros((b, s1)), np.zeros((b, s1))
    ewins, efails, last = np.zeros((b, s1)), np.zeros((b, s1)), np.zeros((b, s1))
    last_seen = np.full((b, s1), -1, dtype=np.int64)
    tot_w, tot_f, last_ans = np.zeros(b), np.zeros(b), np.zeros(b)
    g_ew, g_ef = np.zeros(b), np.zeros(b)
    iw, if_ = _item_counts_before(items, correct)
    glob = np.zeros((b, n, N_GLOBAL), dtype=np.float32)
    counts = np.zeros((b, n, k, 2), dtype=np.float32)
    active_at = np.searchsorted(-lengths[order], -np.arange(n), side="left")  # lengths > t
    for t in range(n):
        a = int(active_at[t])  # rows 0..a-1 have an answer at step t
        rows = np.arange(a)[:, None]
        st, v = sk_ok[:a, t], valid[:a, t]
        _global_features(
            glob[:a, t], v, t, last[rows, st], last_seen[rows, st], ewins[rows, st],
            efails[rows, st], (tot_w[:a], tot_f[:a], last_ans[:a], g_ew[:a], g_ef[:a]),
            iw[:a, t], if_[:a, t])
        vf = v.astype(np.float64)
        counts[:a, t, :, 0] = np.log1p(wins[rows, st]) * vf
        counts[:a, t, :, 1] = np.log1p(fails[rows, st]) * vf
        c = correct[:a, t]
        sign = 2.0 * c - 1.0
        for slot in range(k):  # slot by slot, as `update` walks an item's skills
            ok = v[:, slot]
            rr, kk, cc = np.flatnonzero(ok), st[ok, slot], c[ok]
            wins[rr, kk] += cc
            fails[rr, kk] += 1.0 - cc
            ewins[rr, kk] = SKILL_DECAY * ewins[rr, kk] + cc
            efails[rr, kk] = SKILL_DECAY * efails[rr, kk] + 1.0 - cc
            last[rr, kk] = sign[ok]
            last_seen[rr, kk] = t
        tot_w[:a] += c
        tot_f[:a] += 1.0 - c
        last_ans[:a] = sign
        g_ew[:a] = GLOBAL_DECAY * g_ew[:a] + c
        g_ef[:a] = GLOBAL_DECAY * g_ef[:a] + 1.0 - c
    out: list[tuple[SequenceFeatures, FeatureState]] = [None] * b  # type: ignore[list-item]
    for r, j in enumerate(order):
        it, sk, y = histories[j]
        ln = len(it)
        item_w: dict[int, int] = {}
        item_f: dict[int, int] = {}
        for i, ok in zip(it.tolist(), y.tolist(), strict=True):
            if i:
                book = item_w if ok else item_f
                book[i] = book.get(i, 0) + 1
        state = FeatureState(
            n_skills, wins=wins[r].tolist(), fails=fails[r].tolist(), ewins=ewins[r].tolist(),
            efails=efails[r].tolist(), last=last[r].tolist(), last_seen=last_seen[r].tolist(),
            item_wins=item_w, item_fails=item_f, total_wins=int(tot_w[r]),
            total_fails=int(tot_f[r]), last_answer=float(last_ans[r]), g_ewins=float(g_ew[r]),
            g_efails=float(g_ef[r]), n=ln)
        kk = sk.shape[1]
        feats = SequenceFeatures(
            items=np.asarray(it, dtype=np.int64), skills=np.asarray(sk, dtype=np.int64),
            counts=np.ascontiguousarray(counts[r, :ln, :kk]), glob=glob[r, :ln].copy(),
            correct=np.asarray(y, dtype=np.float32))
        out[j] = (feats, state)
    return out


def featurize_sequence(seq: Sequence, n_skills: int) -> SequenceFeatures:
    return featurize(seq.items, seq.skills, seq.correct, n_skills)[0]
