"""End-to-end meta-training on simulated students; algorithms; the train CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from click.testing import CliRunner

from meta_engine.cli import train as train_cmd
from meta_engine.data import simulate_students, split_by_student
from meta_engine.metrics import evaluate
from meta_engine.train import compare_algorithms, meta_train, predict_dataset


def _split():
    ds = simulate_students(240, 80, 8, seed=11, min_len=20, max_len=60)
    (rest, test), = split_by_student(ds, 4, seed=0)[:1]
    (train, valid), = split_by_student(rest, 4, seed=1)[:1]
    return train, valid, test


def _skill_rate_baseline(train, data) -> list[np.ndarray]:
    """A trivial baseline: each skill's training success rate."""
    wins = np.ones(train.n_skills + 1)
    n = 2 * np.ones(train.n_skills + 1)
    for s in train.sequences:
        np.add.at(wins, s.skills[:, 0], s.correct)
        np.add.at(n, s.skills[:, 0], 1)
    return [(wins / n)[s.skills[:, 0]] for s in data.sequences]


def test_meta_training_beats_trivial_baseline_and_is_calibrated() -> None:
    torch.set_num_threads(1)
    train, valid, test = _split()
    net, rep = meta_train(train, valid, max_minutes=1.0, progress=False, max_epochs=8,
                          algo="metasgd")
    res = evaluate(predict_dataset(net, test), test)
    base = evaluate(_skill_rate_baseline(train, test), test)
    assert res["auc"] > base["auc"] + 0.05
    assert res["ece"] < 0.06
    assert rep.best_epoch >= 1 and rep.valid_auc > 0.7
    # Meta-SGD actually learned its step sizes (one per kind of fast weight and rank
    # dimension: they moved from the initial value).
    init = float(np.log(net.cfg.inner_lr))
    moved = torch.cat([net.core.log_lr_theta, net.core.log_lr_alpha, net.core.log_lr_u])
    assert (moved.detach() - init).abs().max().item() > 1e-3


def test_algorithm_comparison_runs_two_algorithms() -> None:
    torch.set_num_threads(1)
    train, valid, _ = _split()
    res = compare_algorithms(train, valid, ("metasgd", "fomaml"), minutes_each=0.3,
                             max_epochs=2)
    assert res["best"] in {"metasgd", "fomaml"}
    for a in ("metasgd", "fomaml"):
        assert 0.6 < res[a]["valid_auc"] < 1.0


def _write_fold(d: Path, data, split: str) -> None:
    lines = []
    for u, s in enumerate(data.sequences):
        lines.append(f"{u},{u}")
        lines.append(",".join(str(int(i)) for i in s.items))
        lines.append(",".join(str(int(k)) for k in s.skills[:, 0]))
        lines.append(",".join(str(int(c)) for c in s.correct))
    (d / f"sim_pid_{split}1.csv").write_text("\n".join(lines) + "\n")


def test_train_cli_writes_versioned_checkpoint(tmp_path: Path) -> None:
    train, valid, test = _split()
    data = tmp_path / "data"
    data.mkdir()
    for split, ds in (("train", train), ("valid", valid), ("test", test)):
        _write_fold(data, ds, split)
    out = tmp_path / "ckpt"
    r = CliRunner().invoke(train_cmd, ["--data", str(data), "--out", str(out), "--fold", "1",
                                       "--algo", "fomaml", "--device", "cpu",
                                       "--max-minutes", "0.3", "--threads", "1"])
    assert r.exit_code == 0, r.output
    version = (out / "LATEST").read_text().strip()
    card = json.loads((out / version / "model_card.json").read_text())
    assert card["algo"] == "fomaml" and 0.5 < card["valid"]["valid_auc"] <= 1.0
    assert "auc" in card["test"] and (out / version / "weights.pt").exists()


def test_reptile_is_the_published_update() -> None:
    """Reptile moves the initialisation by eps * (adapted - init), a plain step outside Adam:
    with eps = 0 the init never moves while the body trains."""
    torch.set_num_threads(1)
    train, valid, _ = _split()
    net, _ = meta_train(train, valid, progress=False, max_epochs=1, algo="reptile",
                        reptile_eps=0.0)
    assert net.core.theta0.item() == 0.0 and net.core.u0.detach().abs().max().item() == 0.0
    assert net.core.glob.weight.detach().abs().max().item() > 0
    net, _ = meta_train(train, valid, progress=False, max_epochs=1, algo="reptile",
                        reptile_eps=0.5)
    assert net.core.theta0.item() != 0.0


def test_cross_course_training_shares_one_core() -> None:
    """Courses as tasks: one core, one table set per course, each course's tables only
    moved by its own batches."""
    from meta_engine.data.courses import CourseParams, simulate_course
    from meta_engine.model.student import MetisConfig
    from meta_engine.train import TrainCourse, train_courses

    torch.set_num_threads(1)
    courses = []
    for j, fam in enumerate(("irt", "bkt")):
        ds = simulate_course(CourseParams(family=fam, n_skills=5 + j, items_per_skill=6,
                                          len_median=20, len_sigma=0.3), 50, seed=j)
        (tr, va), = split_by_student(ds, 5, seed=0)[:1]
        courses.append(TrainCourse(f"c{j}", tr, va))
    core, tables, rep = train_courses(courses, MetisConfig(0, 0, max_epochs=2, patience=2))
    assert [t.n_skills for t in tables] == [5, 6]
    assert set(rep.courses["valid_auc"]) == {"c0", "c1"}
    assert all(t.skill.detach().abs().max().item() > 0 for t in tables)
