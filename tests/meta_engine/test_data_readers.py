from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from meta_engine.data import (
    dataset_from_answer_log,
    detect_layout,
    load_dataset,
    load_fold,
    read_sequences,
)

Q4 = """891,78276
7410,7410,10076,10091,10091
37,54,54,54,12
0,0,1,1,1
5,111
3,4
2,2
1,0
"""

S3 = """5899,286217
68,68,68,74
1,1,0,1
752,220288
18,3
0,1
"""

L3 = """4
5,5,6,7
1,0,1,1
2
9,9,
0,1,
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_detect_each_layout(tmp_path: Path) -> None:
    assert detect_layout(_write(tmp_path, "a.csv", Q4)) == "question_skill"
    assert detect_layout(_write(tmp_path, "b.csv", S3)) == "skill"
    assert detect_layout(_write(tmp_path, "c.csv", L3)) == "length"


def test_question_skill_merge(tmp_path: Path) -> None:
    ds = load_dataset(_write(tmp_path, "a.csv", Q4))
    s0, s1 = ds.sequences
    assert s0.student == "78276"
    # 7410 twice -> one interaction with skills {37, 54}; 10091 twice -> {54, 12}.
    assert s0.items.tolist() == [7410, 10076, 10091]
    assert s0.skills.tolist() == [[37, 54], [54, 0], [54, 12]]
    assert s0.correct.tolist() == [0, 1, 1]  # first row's response
    assert s1.items.tolist() == [3, 4]
    assert ds.n_items == 10091 and ds.n_skills == 54
    assert ds.item_skills[7410] == (37, 54)


def test_merge_keeps_first_response_when_rows_disagree(tmp_path: Path) -> None:
    ds = load_dataset(_write(tmp_path, "a.csv", "1,1\n5,5\n1,2\n1,0\n"))
    assert ds.sequences[0].correct.tolist() == [1]
    assert ds.sequences[0].skills.tolist() == [[1, 2]]


def test_skill_only_not_merged(tmp_path: Path) -> None:
    ds = load_dataset(_write(tmp_path, "b.csv", S3))
    s0 = ds.sequences[0]
    assert s0.items.tolist() == [0, 0, 0, 0]
    assert s0.skills[:, 0].tolist() == [68, 68, 68, 74]
    assert s0.correct.tolist() == [1, 1, 0, 1]
    assert ds.n_items == 0 and ds.n_skills == 74


def test_length_layout_skills_and_question_map(tmp_path: Path) -> None:
    p = _write(tmp_path, "c.csv", L3)
    ds = load_dataset(p)
    assert [len(s) for s in ds.sequences] == [4, 2]
    assert ds.sequences[0].items.tolist() == [0, 0, 0, 0]
    qmap: dict[int, int | list[int]] = {5: [1, 2], 6: 3, 7: [3], 9: [4]}
    dq = load_dataset(p, question_skill_map=qmap)
    s0 = dq.sequences[0]
    assert s0.items.tolist() == [5, 6, 7]  # the repeated question 5 merges
    assert s0.skills.tolist() == [[1, 2], [3, 0], [3, 0]]
    assert dq.sequences[1].items.tolist() == [9]
    assert dq.item_skills[5] == (1, 2)


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("1,2\n5,6\n1,1\n0,x\n", ":4:", "integers"),
        ("1,2\n5,6,7\n1,1\n0,1\n3,4\n5\n1\n1\n", ":1:", "unrecognised"),  # ragged
        ("3\n1,2\n0,1\n", ":1:", ""),
        ("1,2\n5,6\n1,1\n0,2\n1,3\n5\n1\n1\n", ":4:", "0 or 1"),
    ],
)
def test_malformed_inputs(tmp_path: Path, text: str, where: str, what: str) -> None:
    p = _write(tmp_path, "bad.csv", text)
    with pytest.raises(ValueError) as exc:
        load_dataset(p)
    assert str(p) + where in str(exc.value)
    assert what in str(exc.value)


def test_malformed_with_explicit_layout_points_at_line(tmp_path: Path) -> None:
    p = _write(tmp_path, "bad.csv", "1,2\n5,6\n1,1\n0,1\n3,4\n5,6\n1\n1,0\n")
    with pytest.raises(ValueError, match=r"bad\.csv:7: 1 values, expected 2"):
        read_sequences(p, layout="question_skill")
    p2 = _write(tmp_path, "bad2.csv", "1,2\n5,6\n1,1\n0,3\n")
    with pytest.raises(ValueError, match=r"bad2\.csv:4: responses must be 0 or 1"):
        read_sequences(p2, layout="question_skill")


def test_load_fold_shares_vocab(tmp_path: Path) -> None:
    _write(tmp_path, "x_train1.csv", Q4)
    _write(tmp_path, "x_valid1.csv", "1,9\n20000\n99\n1\n")
    _write(tmp_path, "x_test1.csv", "2,10\n1,1\n3,4\n1,1\n")
    tr, va, te = load_fold(tmp_path, 1)
    assert tr.n_items == va.n_items == te.n_items == 20000
    assert tr.n_skills == te.n_skills == 99
    assert tr.item_skills is te.item_skills and te.item_skills[1] == (3, 4)
    assert {d.sequences[0].skills.shape[1] for d in (tr, va, te)} == {2}
    with pytest.raises(FileNotFoundError):
        load_fold(tmp_path, 2)


def test_answer_log_sorts_by_time() -> None:
    t0 = datetime(2024, 1, 1)
    recs = [
        {"student": "a", "item": 2, "skills": [1, 2], "correct": True,
         "timestamp": t0 + timedelta(seconds=5)},
        {"student": "b", "item": 1, "skills": [1], "correct": 0, "timestamp": 3.0},
        {"student": "a", "item": 1, "skills": [1], "correct": False, "timestamp": t0},
    ]
    ds = dataset_from_answer_log(recs, n_items=5, n_skills=3)
    a = next(s for s in ds.sequences if s.student == "a")
    assert a.items.tolist() == [1, 2]
    assert a.correct.tolist() == [0, 1]
    assert a.skills.tolist() == [[1, 0], [1, 2]]
    assert np.all(np.diff(a.timestamps) > 0)
    assert ds.item_skills[2] == (1, 2)
    with pytest.raises(ValueError, match="record 0"):
        dataset_from_answer_log([{"student": "a"}], n_items=5, n_skills=3)


REAL = Path("/work/shared/data/assist2009")


@pytest.mark.skipif(not REAL.exists(), reason="shared data absent")
def test_real_assist2009_merge_removes_repeats() -> None:
    ds = load_dataset(REAL / "assist2009_pid_valid1.csv")
    for s in ds.sequences:
        assert not np.any(s.items[1:] == s.items[:-1])
    assert ds.n_skills <= 110 and ds.sequences[0].skills.shape[1] >= 2
