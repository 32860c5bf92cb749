"""The engine benchmark: every method on the same folds under the strict protocol.

For each fold k: fit on train_k (methods may tune on valid_k), predict test_k where every
prediction uses only the student's strictly earlier interactions, and score with
`meta_engine.metrics.evaluate`. Reported per method: per-fold figures, and mean and standard
deviation (sample, ddof=1) over folds. Latency and throughput are measured for Metis only, by
the functions its module provides; if Metis is not importable the JSON says so instead of
carrying numbers.
"""

from __future__ import annotations

import json
import math
import platform
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from meta_engine.baselines import BKT, DKT, BestLR, OnlineRasch, QuestionRate
from meta_engine.bench.leak import check_no_leak
from meta_engine.data import load_fold, subset
from meta_engine.methods import Method
from meta_engine.metrics import evaluate
from meta_engine.types import Dataset

Factory = Callable[[str, Mapping[str, Any]], Method]


def _metis(device: str, opts: Mapping[str, Any]) -> Method:
    # Lazy: the Metis model is optional for the harness and heavier to import.
    from meta_engine.api import MetisMethod  # type: ignore[attr-defined,unused-ignore]

    method: Method = MetisMethod(device=device, **opts)
    return method


METHODS: dict[str, Factory] = {
    "question_rate": lambda device, opts: QuestionRate(**opts),
    "rasch": lambda device, opts: OnlineRasch(**opts),
    "best_lr": lambda device, opts: BestLR(**opts),
    "bkt": lambda device, opts: BKT(**opts),
    "dkt": lambda device, opts: DKT(device=device, **opts),
    "metis": _metis,
}


def parse_folds(spec: str) -> list[int]:
    """"1-5" -> [1..5]; "1,4" -> [1, 4]; "1-3,5" -> [1, 2, 3, 5]."""
    out: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                if hi < lo:
                    raise ValueError
                out.extend(range(lo, hi + 1))
            else:
                out.append(int(part))
        except ValueError:
            raise ValueError(f"bad fold spec {spec!r}: use e.g. '1', '1-3' or '1,4'") from None
    if not out or any(k < 1 for k in out):
        raise ValueError(f"bad fold spec {spec!r}")
    return sorted(set(out))


def _subsample(ds: Dataset, n: int | None, seed: int) -> Dataset:
    if n is None or len(ds.sequences) <= n:
        return ds
    idx = np.sort(np.random.default_rng(seed).choice(len(ds.sequences), n, replace=False))
    return subset(ds, idx, ds.name)


def _summary(per_fold: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    def flat(r: dict[str, Any]) -> dict[str, float | None]:
        out = {k: r.get(k) for k in ("auc", "acc", "ece", "train_s", "predict_s")}
        for w, v in r.get("windows", {}).items():
            out[f"auc_{w}"] = v.get("auc")
        return out

    rows = [flat(r) for r in per_fold]
    mean: dict[str, Any] = {}
    std: dict[str, Any] = {}
    for key in rows[0] if rows else []:
        vals = [float(r[key]) for r in rows if r.get(key) is not None]  # type: ignore[arg-type]
        mean[key] = float(np.mean(vals)) if vals else None
        std[key] = float(np.std(vals, ddof=1)) if len(vals) > 1 else (0.0 if vals else None)
    return mean, std


def _metis_speed(method: Method, device: str) -> dict[str, Any]:
    from meta_engine import api  # type: ignore[attr-defined,unused-ignore]

    out: dict[str, Any] = {}
    model: Any = getattr(method, "model", None)
    if model is None:
        return {"latency": {"error": "the method has no trained model"}}
    for key, call in (
        ("latency", lambda: api.measure_latency(model, history_len=50, bank_size=1000,
                                                threads=1)),
        ("throughput", lambda: api.measure_throughput(model, device, 1000)),
    ):
        try:
            out[key] = call()
        except Exception as exc:  # noqa: BLE001 - reported in the JSON, never faked
            out[key] = {"error": f"{type(exc).__name__}: {exc}"}
    return out


def _run_one(
    name: str, factory: Factory, device: str, opts: Mapping[str, Any],
    train: Dataset, valid: Dataset, test: Dataset, measure_speed: bool, leak_check: bool,
) -> dict[str, Any]:
    method = factory(device, opts)
    t0 = time.perf_counter()
    method.fit(train, valid)
    t1 = time.perf_counter()
    preds = method.predict(test)
    t2 = time.perf_counter()
    res: dict[str, Any] = dict(evaluate(preds, test))
    res["train_s"] = round(t1 - t0, 3)
    res["predict_s"] = round(t2 - t1, 3)
    if leak_check:
        res["leak_check"] = check_no_leak(method, test)
    if name == "metis" and measure_speed:
        res.update(_metis_speed(method, device))
    return res


def run_engine_bench(
    data_dir: Path,
    folds: Iterable[int],
    device: str = "auto",
    methods: Iterable[str] | None = None,
    json_out: Path | None = None,
    *,
    max_students: int | None = None,
    method_opts: Mapping[str, Mapping[str, Any]] | None = None,
    seed: int = 0,
    leak_check: bool = True,
    log: Callable[[str], None] | None = None,
    skill_map: Mapping[int, Any] | None = None,
) -> dict[str, Any]:
    """Run ``methods`` (default: all registered) on ``folds`` of ``data_dir``; return the report.

    ``method_opts`` maps a method name to keyword arguments for its constructor (e.g. small DKT
    epochs in tests). A method that fails to import or run is reported as {"error": ...}.
    ``skill_map`` (question id -> skills) gives files that carry question ids only their
    skills, and so the strict merge of repeated rows. ``leak_check`` re-predicts 100 test
    students with flipped answers to verify the strict protocol (see `check_no_leak`); a
    method that fails it is flagged "leak_check_ok": false.
    """
    from meta_engine.device import resolve_device

    data_dir = Path(data_dir)
    folds = list(folds)
    names = list(METHODS) if methods is None else list(methods)
    unknown = [n for n in names if n not in METHODS]
    if unknown:
        raise ValueError(f"unknown methods {unknown}; known: {sorted(METHODS)}")
    dev = str(resolve_device(device))
    opts = dict(method_opts or {})
    say = log or (lambda _msg: None)
    report: dict[str, Any] = {
        "benchmark": "engine",
        "protocol": "strict",
        "dataset": data_dir.name,
        "data_dir": str(data_dir),
        "folds": folds,
        "device": dev,
        "max_students": max_students,
        "skill_map": skill_map is not None,
        "subsampled": max_students is not None,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": {"python": platform.python_version(), "machine": platform.machine()},
        "data": {},
        "methods": {n: {"folds": {}} for n in names},
    }
    for k in folds:
        train, valid, test = load_fold(data_dir, k, question_skill_map=skill_map)
        train = _subsample(train, max_students, seed + k)
        valid = _subsample(valid, max_students, seed + 100 + k)
        test = _subsample(test, max_students, seed + 200 + k)
        report["data"][str(k)] = {
            split: {"students": len(d.sequences), "interactions": d.n_interactions}
            for split, d in (("train", train), ("valid", valid), ("test", test))
        } | {"n_items": train.n_items, "n_skills": train.n_skills}
        for n in names:
            say(f"fold {k}: {n}")
            try:
                res = _run_one(n, METHODS[n], dev, opts.get(n, {}), train, valid, test,
                               measure_speed=k == folds[0], leak_check=leak_check)
            except Exception as exc:  # noqa: BLE001 - one broken method must not hide the rest
                res = {"error": f"{type(exc).__name__}: {exc}",
                       "traceback": traceback.format_exc(limit=5)}
            report["methods"][n]["folds"][str(k)] = res
            say(f"fold {k}: {n}: auc={res.get('auc')} train_s={res.get('train_s')}")
    for n in names:
        per = [r for r in report["methods"][n]["folds"].values() if "error" not in r]
        errors = [r["error"] for r in report["methods"][n]["folds"].values() if "error" in r]
        if errors:
            report["methods"][n]["error"] = errors[0]
        checks = [r["leak_check"]["ok"] for r in per if "leak_check" in r]
        if checks:
            report["methods"][n]["leak_check_ok"] = all(checks)
        if per:
            report["methods"][n]["mean"], report["methods"][n]["std"] = _summary(per)
            first = report["methods"][n]["folds"].get(str(folds[0]), {})
            for key in ("latency", "throughput"):
                if key in first:
                    report["methods"][n][key] = first[key]
    if json_out is not None:
        Path(json_out).write_text(json.dumps(_json_safe(report), indent=2))
    return _json_safe(report)


def _json_safe(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_json_safe(v) for v in x]
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, np.floating | np.integer):
        return _json_safe(x.item())
    return x
