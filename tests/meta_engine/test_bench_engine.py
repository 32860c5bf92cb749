from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from meta_engine.baselines import QuestionRate
from meta_engine.bench import check_no_leak, parse_folds, run_engine_bench
from meta_engine.bench.cli import engine
from meta_engine.data import load_fold, simulate_students, split_by_student
from meta_engine.types import Dataset

FAST = {
    "dkt": {"max_epochs": 4, "hidden": 16, "emb": 8, "lr": 1e-2},
    "metis": {"max_epochs": 3},
}


def _write_assist2009(ds: Dataset, path: Path) -> int:
    """4-line layout with one row per skill of a multi-skill question, as ASSISTments exports."""
    lines, rows = [], 0
    for u, s in enumerate(ds.sequences):
        q, k, c = [], [], []
        for item, sk, y in zip(s.items.tolist(), s.skills.tolist(), s.correct.tolist(),
                               strict=True):
            for skill in (x for x in sk if x):
                q.append(item)
                k.append(skill)
                c.append(y)
        rows += len(q)
        lines += [f"{u},{s.student[3:]}", ",".join(map(str, q)), ",".join(map(str, k)),
                  ",".join(map(str, c))]
    path.write_text("\n".join(lines) + "\n")
    return rows


def _write_skill_only(ds: Dataset, path: Path) -> None:
    lines = []
    for u, s in enumerate(ds.sequences):
        lines += [f"{u},{u + 1000}", ",".join(str(r[0]) for r in s.skills.tolist()),
                  ",".join(map(str, s.correct.tolist()))]
    path.write_text("\n".join(lines) + "\n")


def _write_length_prefixed(ds: Dataset, path: Path) -> None:
    """DKT/DKVMN-style: sequence length / skill ids / responses."""
    lines = []
    for s in ds.sequences:
        lines += [str(len(s)), ",".join(str(r[0]) for r in s.skills.tolist()),
                  ",".join(map(str, s.correct.tolist()))]
    path.write_text("\n".join(lines) + "\n")


def _folds(tmp_path: Path, writer: object, prefix: str, n_folds: int = 2) -> Path:
    ds = simulate_students(150, 40, 5, seed=11, max_len=40)
    d = tmp_path / prefix
    d.mkdir()
    for k, (trv, te) in enumerate(split_by_student(ds, n_folds=5, seed=1)[:n_folds], start=1):
        n_valid = len(trv.sequences) // 4
        va = Dataset("v", trv.sequences[:n_valid], ds.n_items, ds.n_skills, ds.item_skills)
        tr = Dataset("t", trv.sequences[n_valid:], ds.n_items, ds.n_skills, ds.item_skills)
        for split, part in (("train", tr), ("valid", va), ("test", te)):
            writer(part, d / f"{prefix}_{split}{k}.csv")  # type: ignore[operator]
    return d


def test_parse_folds() -> None:
    assert parse_folds("1-5") == [1, 2, 3, 4, 5]
    assert parse_folds("1,4") == [1, 4]
    assert parse_folds("1-3,5") == [1, 2, 3, 5]
    for bad in ("", "a", "3-1", "0"):
        with pytest.raises(ValueError):
            parse_folds(bad)


def test_written_folds_round_trip_through_the_merge(tmp_path: Path) -> None:
    d = _folds(tmp_path, _write_assist2009, "sim_pid", n_folds=1)
    ds = simulate_students(150, 40, 5, seed=11, max_len=40)
    tr, _, te = load_fold(d, 1)
    rows = _write_assist2009(te, tmp_path / "again.csv")
    # Multi-skill questions were written as repeated rows; the merge restores one interaction.
    assert rows > te.n_interactions
    by_id = {s.student: s for s in ds.sequences}
    for s in te.sequences:
        orig = by_id["sim" + s.student]
        assert s.items.tolist() == orig.items.tolist()
        assert s.correct.tolist() == orig.correct.tolist()


def test_bench_end_to_end_question_level(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    d = _folds(tmp_path, _write_assist2009, "sim_pid")
    out = tmp_path / "report.json"
    rep = run_engine_bench(d, [1, 2], "cpu", None, out, method_opts=FAST)
    assert json.loads(out.read_text()) == rep
    assert rep["protocol"] == "strict" and rep["folds"] == [1, 2] and not rep["subsampled"]
    for name in ("question_rate", "rasch", "best_lr", "bkt", "dkt"):
        m = rep["methods"][name]
        assert "error" not in m, m
        assert set(m["folds"]) == {"1", "2"}
        f1 = m["folds"]["1"]
        assert set(f1["windows"]) == {"1-5", "6-20", "21+"}
        assert f1["n"] == rep["data"]["1"]["test"]["interactions"]
        assert f1["train_s"] >= 0 and "latency" not in m
        # Above chance; tiny DKT on ~80 students gets a looser bar.
        assert m["mean"]["auc"] > (0.55 if name == "dkt" else 0.6), (name, m["mean"])
        assert m["std"]["auc"] >= 0
        assert m["leak_check_ok"] is True and f1["leak_check"]["students"] > 0
    # Metis runs in the same harness, and its speed is measured on the trained model.
    metis = rep["methods"]["metis"]
    assert "error" not in metis, metis
    assert metis["mean"]["auc"] > 0.6 and metis["leak_check_ok"] is True
    assert metis["latency"]["p50_ms"] > 0, metis["latency"]
    assert metis["throughput"]["students_per_s"] > 0, metis["throughput"]


@pytest.mark.parametrize("writer", [_write_skill_only, _write_length_prefixed])
def test_cli_skill_only_subsampled(tmp_path: Path, writer: object) -> None:
    torch.set_num_threads(1)
    d = _folds(tmp_path, writer, "sk", n_folds=1)
    out = tmp_path / "r.json"
    res = CliRunner().invoke(engine, [
        "--data", str(d), "--folds", "1", "--device", "cpu", "--methods", "question_rate,bkt,rasch",
        "--json", str(out), "--max-students", "30",
    ])
    assert res.exit_code == 0, res.output
    rep = json.loads(out.read_text())
    assert rep["subsampled"] and rep["max_students"] == 30
    assert rep["data"]["1"]["train"]["students"] == 30
    assert rep["data"]["1"]["n_items"] == 0
    assert set(rep["methods"]) == {"question_rate", "bkt", "rasch"}
    assert all(m["mean"]["auc"] is not None for m in rep["methods"].values())
    bad = CliRunner().invoke(engine, ["--data", str(d), "--methods", "nope"])
    assert bad.exit_code != 0 and "unknown" in bad.output


class _Peeker:
    """Predicts each answer from the answer itself: the leak the harness must catch."""

    name = "peeker"

    def fit(self, train: Dataset, valid: Dataset) -> None:
        pass

    def predict(self, data: Dataset) -> list[np.ndarray]:
        return [0.1 + 0.8 * s.correct.astype(float) for s in data.sequences]


def test_leak_check_catches_a_peeking_method() -> None:
    ds = simulate_students(20, 10, 2, seed=0)
    assert check_no_leak(_Peeker(), ds)["ok"] is False
    qr = QuestionRate()
    qr.fit(ds, ds)
    assert check_no_leak(qr, ds) == {"ok": True, "students": 20, "max_abs_diff": 0.0}
