from __future__ import annotations

import numpy as np

from meta_engine.data import StudentSimulator, simulate_students, split_by_student


def test_simulation_is_deterministic_and_well_formed() -> None:
    a = simulate_students(30, 40, 5, seed=3)
    b = simulate_students(30, 40, 5, seed=3)
    c = simulate_students(30, 40, 5, seed=4)
    assert [s.correct.tolist() for s in a.sequences] == [s.correct.tolist() for s in b.sequences]
    assert [s.items.tolist() for s in a.sequences] != [s.items.tolist() for s in c.sequences]
    for s in a.sequences:
        assert 10 <= len(s) <= 80
        assert s.items.min() >= 1 and s.items.max() <= 40
        for i, row in zip(s.items.tolist(), s.skills.tolist(), strict=True):
            assert tuple(x for x in row if x) == a.item_skills[i]
    assert any(len(v) > 1 for v in a.item_skills.values())


def test_students_learn() -> None:
    sim = StudentSimulator(20, 2, seed=0)
    rng = np.random.default_rng(0)
    st = sim.new_student(rng)
    item = int(sim.items_of_skill[1][0])
    p0 = sim.p_correct(st, item)
    before = st.mastery.copy()
    for _ in range(10):
        sim.answer(st, item, rng)
    assert sim.p_correct(st, item) > p0
    for s in sim.item_skills[item]:
        assert st.mastery[s] > before[s]
    # Across a population, later answers are more often correct than early ones.
    ds = simulate_students(300, 50, 4, seed=1, min_len=40, max_len=40)
    c = np.stack([s.correct for s in ds.sequences])
    assert c[:, 30:].mean() > c[:, :5].mean() + 0.05


def test_split_by_student_partitions() -> None:
    ds = simulate_students(23, 30, 3, seed=2)
    folds = split_by_student(ds, n_folds=5, seed=0)
    tests = [s.student for _, te in folds for s in te.sequences]
    assert sorted(tests) == sorted(s.student for s in ds.sequences)
    for tr, te in folds:
        assert not {s.student for s in tr.sequences} & {s.student for s in te.sequences}
        assert len(tr.sequences) + len(te.sequences) == 23
