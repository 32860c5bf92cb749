"""`metis bench transfer` end to end on simulated courses: a target course served through the
workers' path (`serve.run_batch`), with Elo, PFA, the default core, a trained core and the
in-domain model in the same run; windows, growth and the paired bootstrap in the JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from click.testing import CliRunner

from meta_engine.bench.transfer import run_transfer_bench, schedule
from meta_engine.bench.transfer_cli import transfer
from meta_engine.data.courses import CourseParams, simulate_course
from meta_engine.types import Dataset


def _write_folds(ds: Dataset, d: Path, prefix: str) -> None:
    """4-line question/skill layout, one fold (60/20/20 by student)."""
    d.mkdir()
    n = len(ds.sequences)
    parts = {"train": ds.sequences[: int(0.6 * n)], "valid": ds.sequences[int(0.6 * n):
                                                                          int(0.8 * n)],
             "test": ds.sequences[int(0.8 * n):]}
    for split, seqs in parts.items():
        lines = []
        for u, s in enumerate(seqs):
            lines += [f"{u},{u}", ",".join(map(str, s.items.tolist())),
                      ",".join(str(r[0]) for r in s.skills.tolist()),
                      ",".join(map(str, s.correct.tolist()))]
        (d / f"{prefix}_{split}1.csv").write_text("\n".join(lines) + "\n")


def _data(tmp_path: Path) -> tuple[Path, Path]:
    a = simulate_course(CourseParams(n_skills=6, items_per_skill=10, len_median=20,
                                     len_sigma=0.3, multi_skill=0.0), 60, seed=1)
    b = simulate_course(CourseParams(family="bkt", n_skills=5, items_per_skill=8,
                                     len_median=20, len_sigma=0.3, multi_skill=0.0), 70,
                        seed=2)
    _write_folds(a, tmp_path / "srcA", "srcA")
    _write_folds(b, tmp_path / "tgtB", "tgtB")
    return tmp_path / "srcA", tmp_path / "tgtB"


def test_schedule_is_causal_and_complete() -> None:
    ticks = schedule([3, 1, 2], concurrency=2)
    seen = [x for t in ticks for x in t]
    assert sorted(seen) == [(0, 0), (0, 1), (0, 2), (1, 0), (2, 0), (2, 1)]
    assert ticks[0] == [(0, 0), (1, 0)]  # student 2 arrives when student 1 is done
    for s in range(3):
        pos = [t for i, tick in enumerate(ticks) for (u, t) in tick if u == s]
        assert pos == sorted(pos)


def test_transfer_bench_on_simulated_courses(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    src, tgt = _data(tmp_path)
    out = tmp_path / "transfer.json"
    r = run_transfer_bench([src], tgt, students=14, algos=("maml",), sim_courses=1,
                           sim_students=30, max_epochs=1, in_domain_epochs=1,
                           concurrency=4, plan_every=3, json_out=out)
    saved = json.loads(out.read_text())
    assert saved["target"] == "tgtB" and saved["train"] == ["srcA"]
    methods = saved["methods"]
    assert set(methods) == {"elo", "pfa", "default", "metis-maml", "in_domain"}
    n = saved["interactions"]
    for name, m in methods.items():
        assert m["n"] == n and 0.0 < m["auc"] < 1.0, name
        assert set(m["windows"]) == {"1-5", "6-20", "21+"}
        assert "1-50" in m["growth"] and m["growth"]["1-50"]["students"] == 14
    assert "strict_batched" in methods["in_domain"]
    for name in ("metis-maml", "default"):
        d = methods[name]["minus"]["pfa"]
        assert d["low"] <= d["diff"] <= d["high"]
    assert methods["metis-maml"]["plan_ms_p50"] > 0
    assert np.isfinite(r["seconds"])


def test_transfer_cli_refuses_target_in_train(tmp_path: Path) -> None:
    src, tgt = _data(tmp_path)
    res = CliRunner().invoke(transfer, ["--train", f"{src},{tgt}", "--target", str(tgt)])
    assert res.exit_code == 2 and "must not be among" in res.output
    res = CliRunner().invoke(transfer, ["--target", str(tgt), "--algos", "nope"])
    assert res.exit_code == 2
