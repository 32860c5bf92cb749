"""The transfer benchmark: a target dataset's test students served as a brand-new course.

Through the code path the workers run (`meta_engine.serve.run_batch` with a `TableStore`):
the course's items and skills are unseen, its tables start from priors and are fitted online
from its own answers in time order, every prediction is the one the engine made for an answer
before seeing it (`EventResult.p_before`). Students arrive one after another in file order;
`concurrency` of them answer at the same time, one answer each per tick, and a tick is one
batch (the tables a batch reads hold every earlier tick's answers).

Compared in the same run, on the same stream: Metis cores trained on other datasets (and
simulated courses) for each requested meta-learning algorithm, the shipped default core,
the in-domain Metis model of the target (core + tables trained on the target's own training
students, served with its tables and the same online fitting; its strict batched prediction is
reported too), and online Elo and online PFA learned from scratch on the stream.

Reported per method: AUC, accuracy, ECE, AUC on each student's answers 1-5 / 6-20 / 21+, and
AUC of the students by how many students the course had seen when they arrived (1-50, 51-200,
201-800, 801+); paired bootstrap over students of Metis minus each baseline.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from meta_engine.baselines.online import OnlineElo, OnlinePFA
from meta_engine.data import load_fold
from meta_engine.data.courses import CourseParams, sample_params, simulate_course
from meta_engine.data.simulate import split_by_student
from meta_engine.metrics import accuracy, auc, ece, evaluate, fast_auc
from meta_engine.model.serving import Model
from meta_engine.model.student import MetisConfig, MetisNet
from meta_engine.model.tables import InMemoryTableStore
from meta_engine.serve import Event, run_batch
from meta_engine.train import TrainCourse, meta_train, predict_dataset, train_courses
from meta_engine.types import Dataset, Item

GROWTH = (("1-50", 1, 50), ("51-200", 51, 200), ("201-800", 201, 800), ("801+", 801, None))
Log = Callable[[str], None]


def schedule(lengths: Sequence[int], concurrency: int) -> list[list[tuple[int, int]]]:
    """Ticks of (student, position): students arrive in order, `concurrency` at a time; each
    active student answers once per tick; a finished student's place goes to the next."""
    ticks: list[list[tuple[int, int]]] = []
    active: list[list[int]] = []  # [student, next position]
    nxt = 0
    n = len(lengths)
    while nxt < n or active:
        while len(active) < concurrency and nxt < n:
            if lengths[nxt] > 0:
                active.append([nxt, 0])
            nxt += 1
        if not active:
            break
        ticks.append([(s, t) for s, t in active])
        for a in active:
            a[1] += 1
        active = [a for a in active if a[1] < lengths[a[0]]]
    return ticks


@dataclass
class Served:
    preds: list[np.ndarray]
    seconds: float
    events: int
    plan_ms_p50: float | None


def _bank_index(data: Dataset) -> dict[int, list[Item]]:
    """Items of the course by skill (the bank a plan is chosen from: the answer's skills)."""
    by: dict[int, list[Item]] = {}
    for i, sk in sorted(data.item_skills.items()):
        for k in sk:
            by.setdefault(int(k), []).append(Item(int(i), tuple(int(x) for x in sk)))
    return by


def serve_stream(model: Model, data: Dataset, ticks: list[list[tuple[int, int]]],
                 course: str, plan_every: int = 0, log: Log | None = None) -> Served:
    """Serve every answer of `data` through `run_batch`, tick by tick; returns p_before."""
    store = InMemoryTableStore()
    inter = [s.interactions() for s in data.sequences]
    preds = [np.full(len(s), np.nan) for s in data.sequences]
    by_skill = _bank_index(data) if plan_every else {}
    plan_ms: list[float] = []
    t0 = time.perf_counter()
    for n, tick in enumerate(ticks):
        events = []
        for s, t in tick:
            plan = bool(plan_every) and s % plan_every == 0
            a = inter[s][t]
            bank = None
            if plan and by_skill:
                bank = [it for k in a.skills for it in by_skill.get(k, [])][:300] or None
            events.append(Event(f"{s}:{t}", str(s), inter[s][: t + 1], bank=bank,
                                now=float(t + 1), plan=plan,
                                since=max(t + 1 - 5, 0) if t >= 5 else None))
        for (s, t), r in zip(tick, run_batch(model, store, course, events), strict=True):
            preds[s][t] = r.p_before if r.p_before is not None else np.nan
            if "plan" in r.timings_ms:
                plan_ms.append(r.timings_ms["plan"])
        if log and n % 500 == 0:
            log(f"  {course}: tick {n}/{len(ticks)} ({time.perf_counter() - t0:.0f}s)")
    events_n = sum(len(t) for t in ticks)
    return Served(preds, time.perf_counter() - t0, events_n,
                  float(np.median(plan_ms)) if plan_ms else None)


def online_stream(method: OnlineElo | OnlinePFA, data: Dataset,
                  ticks: list[list[tuple[int, int]]]) -> Served:
    """The same stream through an online baseline: predict every answer of a tick, then
    learn from them."""
    preds = [np.full(len(s), np.nan) for s in data.sequences]
    t0 = time.perf_counter()
    for tick in ticks:
        rows = []
        for s, t in tick:
            q = data.sequences[s]
            sk = tuple(int(k) for k in q.skills[t] if k)
            preds[s][t] = method.predict(str(s), int(q.items[t]), sk)
            rows.append((str(s), int(q.items[t]), sk, int(q.correct[t])))
        for r in rows:
            method.update(*r)
    return Served(preds, time.perf_counter() - t0, sum(len(t) for t in ticks), None)


def score(preds: list[np.ndarray], data: Dataset) -> dict[str, Any]:
    """evaluate() plus AUC by arrival rank of the student (GROWTH buckets)."""
    clipped = [np.clip(p, 1e-6, 1 - 1e-6) for p in preds]
    res: dict[str, Any] = dict(evaluate(clipped, data))
    growth: dict[str, Any] = {}
    for name, lo, hi in GROWTH:
        idx = [i for i in range(len(preds)) if i + 1 >= lo and (hi is None or i + 1 <= hi)]
        if not idx:
            continue
        y = np.concatenate([data.sequences[i].correct for i in idx])
        p = np.concatenate([clipped[i] for i in idx])
        growth[name] = {"auc": auc(y, p), "ece": ece(y, p), "acc": accuracy(y, p),
                        "students": len(idx), "n": int(y.size)}
    res["growth"] = growth
    return res


def paired_bootstrap(a: list[np.ndarray], b: list[np.ndarray], data: Dataset,
                     n_boot: int = 300, seed: int = 0) -> dict[str, float]:
    """AUC(a) - AUC(b) with a 95% interval, resampling students (paired)."""
    rng = np.random.default_rng(seed)
    ys = [s.correct for s in data.sequences]
    n = len(ys)

    def d(idx: np.ndarray) -> float:
        y = np.concatenate([ys[i] for i in idx])
        return fast_auc(y, np.concatenate([a[i] for i in idx])) - \
            fast_auc(y, np.concatenate([b[i] for i in idx]))

    point = d(np.arange(n))
    boots = [d(rng.integers(0, n, n)) for _ in range(n_boot)]
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return {"diff": float(point), "low": float(lo), "high": float(hi), "n_boot": n_boot}


# -- building the models ------------------------------------------------------------------------
def core_config(max_k: int = 4, **overrides: Any) -> MetisConfig:
    cfg = MetisConfig(n_items=0, n_skills=0, max_skills=max_k)
    for k, v in overrides.items():
        setattr(cfg, k, v)
    return cfg


def simulated_courses(n: int, students: int, seed: int,
                      params: Sequence[CourseParams] = ()) -> list[TrainCourse]:
    """`n` courses drawn from the broad prior over courses (plus the given parameter sets),
    each split 80/20 into training and validation students."""
    rng = np.random.default_rng(seed)
    plist = list(params) + [sample_params(rng) for _ in range(n)]
    out = []
    for j, p in enumerate(plist):
        ds = simulate_course(p, students, seed * 1000 + j, name=f"sim{seed}-{j}")
        (tr, va), = split_by_student(ds, 5, seed=j)[:1]
        out.append(TrainCourse(ds.name, tr, va))
    return out


def model_from_core(core_net: MetisNet, card: dict, version: str) -> Model:
    return Model(core_net.eval(), torch.device("cpu"), card, version)


def train_core(courses: list[TrainCourse], cfg: MetisConfig, log: Log | None = None,
               name: str = "metis") -> tuple[Model, dict]:
    core, _, rep = train_courses(courses, cfg, "cpu", None, False, log)
    net = MetisNet(cfg)
    net.core.load_state_dict(core.state_dict())
    card = {"trained_on": [c.name for c in courses], "algo": cfg.algo,
            "report": rep.to_dict()}
    return model_from_core(net, card, f"{name}-{cfg.algo}"), card


def run_transfer_bench(
    train_dirs: Sequence[Path], target_dir: Path, *, fold: int = 1, students: int = 800,
    algos: Sequence[str] = ("maml",), baselines: Sequence[str] = ("elo", "pfa"),
    default: bool = True, in_domain: bool = True, sim_courses: int = 8,
    sim_students: int = 300, concurrency: int = 16, plan_every: int = 10,
    skill_map: dict | None = None, max_epochs: int = 20, in_domain_epochs: int = 30,
    seed: int = 0,
    core_overrides: dict | None = None, source_students: int | None = None,
    json_out: Path | None = None, log: Log | None = None, save_cores: Path | None = None,
    cores: dict[str, Path] | None = None,
) -> dict[str, Any]:
    """Run the benchmark (see the module doc). `cores` maps an algorithm to a saved core
    (a checkpoint dir) to serve instead of training one; `save_cores` keeps the trained
    cores (one checkpoint dir per algorithm)."""
    say = log or (lambda _m: None)
    t_start = time.perf_counter()
    tr_t, va_t, te_t = load_fold(Path(target_dir), fold, question_skill_map=skill_map)
    test = Dataset(te_t.name, te_t.sequences[:students] if students else te_t.sequences,
                   te_t.n_items, te_t.n_skills, te_t.item_skills)
    ticks = schedule([len(s) for s in test.sequences], concurrency)
    course = Path(target_dir).name
    report: dict[str, Any] = {
        "benchmark": "transfer", "protocol": "served as a new course, strictly causal",
        "target": course, "train": [Path(d).name for d in train_dirs], "fold": fold,
        "students": len(test.sequences), "interactions": test.n_interactions,
        "concurrency": concurrency, "ticks": len(ticks), "plan_every": plan_every,
        "skill_map": skill_map is not None, "sim_courses": sim_courses,
        "sim_students": sim_students, "max_epochs": max_epochs,
        "in_domain_epochs": in_domain_epochs, "seed": seed,
        "source_students": source_students,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": {"python": platform.python_version(), "machine": platform.machine(),
                 "torch_threads": torch.get_num_threads()},
        "methods": {},
    }
    preds: dict[str, list[np.ndarray]] = {}

    def record(name: str, served: Served, extra: dict | None = None) -> None:
        res = score(served.preds, test)
        res.update({"serve_s": round(served.seconds, 1), "events": served.events})
        if served.plan_ms_p50 is not None:
            res["plan_ms_p50"] = served.plan_ms_p50
        res.update(extra or {})
        report["methods"][name] = res
        preds[name] = served.preds
        say(f"{name}: AUC {res['auc']:.4f} ECE {res['ece']:.4f} "
            f"windows {[round(v['auc'] or 0, 4) for v in res['windows'].values()]}")

    for b in baselines:
        method = OnlineElo() if b == "elo" else OnlinePFA()
        record(b, online_stream(method, test, ticks))
    if default:
        from meta_engine.api import default_model

        m = default_model()
        record("default", serve_stream(m, test, ticks, course, plan_every, say),
               {"card": {k: m.card.get(k) for k in ("version", "trained_on", "date")}})
    sources: list[TrainCourse] = []
    for d in train_dirs:
        tr, va, _ = load_fold(Path(d), fold, question_skill_map=skill_map)
        if source_students:
            tr = Dataset(tr.name, tr.sequences[:source_students], tr.n_items, tr.n_skills,
                         tr.item_skills)
            va = Dataset(va.name, va.sequences[: max(source_students // 4, 50)], va.n_items,
                         va.n_skills, va.item_skills)
        sources.append(TrainCourse(Path(d).name, tr, va))
    sims = simulated_courses(sim_courses, sim_students, seed) if sim_courses else []
    for algo in algos:
        t0 = time.perf_counter()
        if cores and algo in cores:
            from meta_engine.api import load_model

            model = load_model(str(cores[algo]), "cpu")
            card = dict(model.card)
        else:
            cfg = core_config(max_epochs=max_epochs, seed=seed, algo=algo, patience=3,
                              **(core_overrides or {}))
            model, card = train_core(sources + sims, cfg, say, "transfer")
            if save_cores is not None:
                from meta_engine.checkpoint import save_checkpoint

                save_checkpoint(model.net, Path(save_cores) / algo, card, model.version,
                                flat=True)
        train_s = time.perf_counter() - t0
        rep = card.get("report", {})
        record(f"metis-{algo}", serve_stream(model, test, ticks, course, plan_every, say),
               {"train_s": round(train_s, 1), "valid": rep.get("courses"),
                "epochs": rep.get("epochs"), "best_epoch": rep.get("best_epoch")})
    if in_domain:
        t0 = time.perf_counter()
        net, rep = meta_train(tr_t, va_t, progress=False, max_minutes=None,
                              max_epochs=in_domain_epochs, seed=seed)
        m = Model(net, torch.device("cpu"), {"course": course}, f"in-domain-{course}")
        train_s = time.perf_counter() - t0
        strict = score(predict_dataset(net, test), test)
        record("in_domain", serve_stream(m, test, ticks, course, plan_every, say),
               {"train_s": round(train_s, 1), "strict_batched": {
                   k: strict[k] for k in ("auc", "ece", "windows", "growth")}})
    for name in list(preds):
        if name.startswith("metis") or name == "default":
            report["methods"][name]["minus"] = {
                b: paired_bootstrap(preds[name], preds[b], test, seed=seed)
                for b in baselines}
    report["seconds"] = round(time.perf_counter() - t_start, 1)
    if json_out is not None:
        Path(json_out).write_text(json.dumps(report, indent=2, default=float))
    return report
