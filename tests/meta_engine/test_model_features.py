"""History features: strictly from earlier answers, identical on the sequence and bank paths."""

from __future__ import annotations

import numpy as np

from meta_engine.data import simulate_students
from meta_engine.model.features import N_GLOBAL, FeatureState, featurize, featurize_batch


def _seq():
    ds = simulate_students(3, 40, 5, seed=3, min_len=30, max_len=30)
    return ds, ds.sequences[0]


def test_features_of_t_ignore_answer_t() -> None:
    ds, s = _seq()
    f1, _ = featurize(s.items, s.skills, s.correct, ds.n_skills)
    y2 = s.correct.copy()
    y2[10] = 1 - y2[10]
    f2, _ = featurize(s.items, s.skills, y2, ds.n_skills)
    assert np.array_equal(f1.glob[:11], f2.glob[:11])
    assert np.array_equal(f1.counts[:11], f2.counts[:11])
    assert not np.array_equal(f1.glob[11:], f2.glob[11:])  # later features do see it


def test_bank_features_equal_per_item_features() -> None:
    ds, s = _seq()
    _, st = featurize(s.items, s.skills, s.correct, ds.n_skills)
    items = np.array([s.items[0], s.items[5], 0, 999], dtype=np.int64)
    skills = np.array([[1, 0], [2, 3], [4, 0], [0, 0]], dtype=np.int64)
    g, cnt = st.bank_features(items, skills)
    assert g.shape == (4, N_GLOBAL)
    for r in range(4):
        gi, ci = st.features(int(items[r]), tuple(int(k) for k in skills[r] if k))
        np.testing.assert_allclose(g[r], gi, rtol=1e-12)
        flat = cnt[r][skills[r] > 0].reshape(-1)
        np.testing.assert_allclose(flat, ci, rtol=1e-12)


def test_bank_features_count_every_answered_item() -> None:
    """The vectorised item-count lookup finds each answered item, and nothing for the rest."""
    ds, s = _seq()
    _, st = featurize(s.items, s.skills, s.correct, ds.n_skills)
    seen = np.unique(s.items)
    items = np.concatenate([seen[::-1], [0, int(seen.max()) + 1, 10**9]]).astype(np.int64)
    skills = np.ones((len(items), 1), dtype=np.int64)
    g, _ = st.bank_features(items, skills)
    for r, i in enumerate(items.tolist()):
        gi, _ = st.features(i, (1,))
        np.testing.assert_allclose(g[r, 6:8], gi[6:8], rtol=1e-12)
    assert (g[: len(seen), 6] + g[: len(seen), 7] > 0).all()


def test_feature_state_round_trip() -> None:
    ds, s = _seq()
    _, st = featurize(s.items, s.skills, s.correct, ds.n_skills)
    st2 = FeatureState.from_dict(st.to_dict())
    assert st2.features(int(s.items[3]), (1, 2)) == st.features(int(s.items[3]), (1, 2))


def test_featurize_batch_equals_featurize() -> None:
    """Many histories of different lengths (one empty, multi-skill rows, item 0, unknown skill
    ids, repeated items) featurised at once give each history's own `featurize` exactly."""
    ds = simulate_students(12, 15, 5, seed=7, min_len=1, max_len=60)
    rng = np.random.default_rng(0)
    hist = []
    for s in ds.sequences:
        sk = np.zeros((len(s.items), 3), dtype=np.int64)
        sk[:, : s.skills.shape[1]] = s.skills
        extra = rng.random(len(s.items)) < 0.3
        sk[extra, 1] = rng.integers(1, ds.n_skills + 3, extra.sum())  # some beyond n_skills
        items = s.items.copy()
        items[rng.random(len(items)) < 0.1] = 0
        hist.append((items, sk, s.correct.astype(np.int64)))
    hist.append((np.zeros(0, dtype=np.int64), np.zeros((0, 3), dtype=np.int64),
                 np.zeros(0, dtype=np.int64)))
    hist.append((hist[0][0], hist[0][1], hist[0][2] * 2))  # "right" given as any non-zero
    batch = featurize_batch(hist, ds.n_skills)
    assert len(batch) == len(hist)
    for (items, sk, y), (fb, sb) in zip(hist, batch, strict=True):
        f1, s1 = featurize(items, sk, y, ds.n_skills)
        np.testing.assert_allclose(fb.glob, f1.glob, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(fb.counts, f1.counts, rtol=1e-6, atol=1e-7)
        assert fb.glob.shape == f1.glob.shape and fb.counts.shape == f1.counts.shape
        d1, db = s1.to_dict(), sb.to_dict()
        assert db.keys() == d1.keys()
        for key in d1:
            if isinstance(d1[key], list):
                np.testing.assert_allclose(db[key], d1[key], rtol=1e-12, err_msg=key)
            else:
                assert db[key] == d1[key], key


def test_featurize_batch_of_empty_histories() -> None:
    empty = (np.zeros(0, dtype=np.int64), np.zeros((0, 1), dtype=np.int64),
             np.zeros(0, dtype=np.int64))
    out = featurize_batch([empty] * 3, 4)
    assert [len(f.items) for f, _ in out] == [0, 0, 0]
    assert all(st.to_dict() == featurize(*empty, 4)[1].to_dict() for _, st in out)


def test_rows_before_from_row_only_advance_the_state() -> None:
    ds, s = _seq()
    full, st_full = featurize(s.items, s.skills, s.correct, ds.n_skills)
    part, st_part = featurize(s.items, s.skills, s.correct, ds.n_skills, from_row=12)
    assert np.array_equal(full.glob[12:], part.glob[12:])
    assert np.array_equal(full.counts[12:], part.counts[12:])
    assert not part.glob[:12].any()  # not read: serving keeps the last window only
    assert st_part.to_dict() == st_full.to_dict()
