"""Meta-training: one core across courses (each with its own tables), or one course in-domain.

Featurise, meta-train with early stopping (bounded by epochs), calibrate, report.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score
from tqdm import tqdm

from meta_engine.meta.algorithms import ALGORITHMS, MetaAlgorithm, predict_chunks
from meta_engine.model.core import MetisCore
from meta_engine.model.features import SequenceFeatures, featurize_sequence
from meta_engine.model.student import Chunks, MetisConfig, MetisNet, make_chunks
from meta_engine.model.tables import TableParams, TablePriors, online_difficulties
from meta_engine.types import Dataset


def max_skills(*datasets: Dataset) -> int:
    return max([1] + [int(s.skills.shape[1]) for d in datasets for s in d.sequences])


def dataset_chunks(net_cfg: MetisConfig, data: Dataset, n_skills: int | None = None,
                   online: bool = False) -> tuple[Chunks, list[SequenceFeatures]]:
    s = max(data.n_skills, n_skills or 0)
    feats = [featurize_sequence(q, s) for q in data.sequences]
    onl = (online_difficulties(data.sequences, TablePriors.from_config(net_cfg))
           if online else None)
    return make_chunks(feats, net_cfg.window, net_cfg.chunk, net_cfg.max_skills, s,
                       onl), feats


def unchunk(net_cfg: MetisConfig, ch: Chunks, logits: np.ndarray,
            lengths: list[int]) -> list[np.ndarray]:
    """Scatter per-row target logits back to one array per sequence."""
    out = [np.zeros(n, dtype=np.float64) for n in lengths]
    for r in range(len(ch)):
        si, start = int(ch.seq_index[r]), int(ch.start[r])
        n = min(net_cfg.chunk, lengths[si] - start)
        out[si][start:start + n] = logits[r, :n]
    return out


def auc_ece(p: np.ndarray, y: np.ndarray, bins: int = 15) -> tuple[float, float]:
    """AUC and expected calibration error (equal-width bins), for monitoring during training."""
    auc = float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan")
    idx = np.minimum((p * bins).astype(int), bins - 1)
    ece = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            ece += m.mean() * abs(p[m].mean() - y[m].mean())
    return auc, float(ece)


def fit_platt(core: Any, logits: np.ndarray, y: np.ndarray) -> None:
    """Fit calib_a, calib_b (Platt scaling) on validation logits; AUC is unchanged by it."""
    z = torch.as_tensor(logits, dtype=torch.float64)
    t = torch.as_tensor(y, dtype=torch.float64)
    ab = torch.tensor([1.0, 0.0], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([ab], lr=0.5, max_iter=100)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(ab[0] * z + ab[1], t)
        loss.backward()
        return loss

    opt.step(closure)
    core.calib_a.fill_(float(ab[0].detach()))
    core.calib_b.fill_(float(ab[1].detach()))


@dataclass
class TrainReport:
    algo: str
    epochs: int
    steps: int
    seconds: float
    best_epoch: int
    valid_auc: float
    valid_ece: float
    valid_auc_uncalibrated_ece: float
    history: list[dict] = field(default_factory=list)
    courses: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class TrainCourse:
    """A course to meta-train on: its training students (tasks) and validation students."""

    name: str
    train: Dataset
    valid: Dataset


def _valid_scores(core: MetisCore, tables: TableParams, ch: Chunks,
                  calibrated: bool) -> tuple[np.ndarray, np.ndarray]:
    z = predict_chunks(core, tables, ch, calibrated=calibrated,
                       online=core.cfg.online_tables > 0 and ch.online is not None)
    tgt = ch.target[:, core.cfg.window:].cpu().numpy()
    y = ch.y[:, core.cfg.window:].cpu().numpy()
    return z[tgt], y[tgt]


def _course_tables(cfg: MetisConfig, c: TrainCourse) -> TableParams:
    n_items = max(c.train.n_items, c.valid.n_items)
    n_skills = max(c.train.n_skills, c.valid.n_skills)
    tp = TableParams(n_items, n_skills, cfg.rank)
    for q in c.train.sequences:
        tp.count(q.items, q.skills)
    return tp


def train_courses(courses: list[TrainCourse], cfg: MetisConfig,
                  device: torch.device | str = "cpu", max_minutes: float | None = None,
                  progress: bool = False, log: Any = None,
                  init_core: dict | None = None
                  ) -> tuple[MetisCore, list[TableParams], TrainReport]:
    """Meta-train one core across `courses` (each with its own tables, trained jointly):
    batches of one course's students, courses interleaved at random; early stopping on the
    mean over courses of the validation AUC (with `cfg.online_tables`, of the validation
    students served as a new course: their tables estimated online from them alone); Platt
    calibration on every course's validation students together (in the same regime).
    Bounded by `cfg.max_epochs` (and `max_minutes` if given)."""
    t0 = time.perf_counter()
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    dev = torch.device(device)
    core = MetisCore(cfg)
    if init_core is not None:
        core.load_state_dict(init_core)
    core = core.to(dev)
    tables = [_course_tables(cfg, c).to(dev) for c in courses]
    onl = cfg.online_tables > 0
    tr = [dataset_chunks(cfg, c.train, tables[i].n_skills, onl)[0].to(dev)
          for i, c in enumerate(courses)]
    va = [dataset_chunks(cfg, c.valid, tables[i].n_skills, onl)[0].to(dev)
          for i, c in enumerate(courses)]
    algo = MetaAlgorithm(core, tables, cfg.algo)
    best, best_state, best_epoch, bad, steps, epoch = -1.0, None, 0, 0, 0, 0
    history: list[dict] = []
    deadline = None if max_minutes is None else t0 + 60.0 * max_minutes
    say = log or (lambda _m: None)

    def valid_auc() -> tuple[float, dict]:
        per = {}
        for c, tab, ch in zip(courses, tables, va, strict=True):
            if len(ch):
                z, y = _valid_scores(core, tab, ch, calibrated=False)
                per[c.name] = auc_ece(1 / (1 + np.exp(-z)), y)[0]
        vals = [v for v in per.values() if np.isfinite(v)]
        return (float(np.mean(vals)) if vals else float("nan")), per

    for epoch in range(1, cfg.max_epochs + 1):
        jobs = [(ci, idx) for ci, ch in enumerate(tr)
                for idx in np.array_split(rng.permutation(len(ch)),
                                          max(1, int(np.ceil(len(ch) / cfg.batch))))]
        order = rng.permutation(len(jobs))
        bar = tqdm(order, desc=f"{cfg.algo} epoch {epoch}", disable=not progress, leave=False)
        losses = []
        for j in bar:
            ci, idx = jobs[int(j)]
            losses.append(algo.train_step(tr[ci].subset(idx), ci))
            steps += 1
            if deadline is not None and time.perf_counter() > deadline:
                break
        auc, per = valid_auc()
        history.append({"epoch": epoch, "train_loss": float(np.mean(losses)),
                        "valid_auc": auc, "valid_auc_courses": per,
                        "elapsed_s": time.perf_counter() - t0})
        say(f"[{cfg.algo}] epoch {epoch} loss {np.mean(losses):.4f} valid AUC {auc:.4f} "
            f"({time.perf_counter() - t0:.0f}s)")
        if auc > best + 1e-4:
            best, best_epoch, bad = auc, epoch, 0
            best_state = (copy.deepcopy(core.state_dict()),
                          [copy.deepcopy(t.state_dict()) for t in tables])
        else:
            bad += 1
        if bad >= cfg.patience or (deadline is not None and time.perf_counter() > deadline):
            break
    if best_state is not None:
        core.load_state_dict(best_state[0])
        for t, st in zip(tables, best_state[1], strict=True):
            t.load_state_dict(st)
    zs, ys = [], []
    for tab, ch in zip(tables, va, strict=True):
        if len(ch):
            z, y = _valid_scores(core, tab, ch, calibrated=False)
            zs.append(z)
            ys.append(y)
    z, y = np.concatenate(zs), np.concatenate(ys)
    _, ece_raw = auc_ece(1 / (1 + np.exp(-z)), y)
    fit_platt(core, z, y)
    auc_c, ece = auc_ece(1 / (1 + np.exp(-core.calibrate(torch.as_tensor(z)).numpy())), y)
    _, per = valid_auc()
    core.cpu()
    for t in tables:
        t.cpu()
    report = TrainReport(cfg.algo, epoch, steps, time.perf_counter() - t0, best_epoch,
                         auc_c if len(courses) == 1 else best, ece, ece_raw, history,
                         {"valid_auc": per,
                          "names": [c.name for c in courses],
                          "train_students": [len(c.train.sequences) for c in courses]})
    return core, tables, report


def meta_train(train: Dataset, valid: Dataset, cfg: MetisConfig | None = None,
               device: torch.device | str = "cpu", max_minutes: float | None = 20.0,
               progress: bool = True, **overrides: Any) -> tuple[MetisNet, TrainReport]:
    """Meta-train on `train` students (tasks) of one course: core and the course's tables
    jointly (the in-domain model); early-stop and calibrate on `valid` students."""
    if cfg is None:
        cfg = MetisConfig(n_items=max(train.n_items, valid.n_items),
                          n_skills=max(train.n_skills, valid.n_skills),
                          max_skills=max_skills(train, valid))
    for k, v in overrides.items():
        setattr(cfg, k, v)
    log = (lambda m: tqdm.write(m)) if progress else None
    core, tables, rep = train_courses([TrainCourse(train.name, train, valid)], cfg, device,
                                      max_minutes, progress, log)
    net = MetisNet(cfg)
    net.core.load_state_dict(core.state_dict())
    net.tables = tables[0]
    net.cfg.n_items, net.cfg.n_skills = tables[0].n_items, tables[0].n_skills
    return net.eval(), rep


@torch.no_grad()
def predict_dataset(net: MetisNet, data: Dataset, device: torch.device | str = "cpu",
                    batch: int = 256) -> list[np.ndarray]:
    """Strict prefix predictions P(correct) for every interaction of every sequence (the
    dataset's ids are the tables' ids; ids the tables lack are placed from the priors)."""
    dev = torch.device(device)
    net = net.to(dev)
    ch, _ = dataset_chunks(net.cfg, data, net.tables.n_skills)
    z = predict_chunks(net.core, net.tables, ch.to(dev), batch=batch, calibrated=True)
    logits = unchunk(net.cfg, ch, z, [len(s) for s in data.sequences])
    return [1.0 / (1.0 + np.exp(-x)) for x in logits]


def compare_algorithms(train: Dataset, valid: Dataset, algos: tuple[str, ...] = ALGORITHMS,
                       minutes_each: float = 3.0, device: str = "cpu", progress: bool = False,
                       **overrides: Any) -> dict:
    """Meta-train each algorithm in-domain under the same bounds; valid AUC/ECE and time."""
    out: dict = {}
    for a in algos:
        _, rep = meta_train(train, valid, device=device, max_minutes=minutes_each,
                            progress=progress, algo=a, **overrides)
        out[a] = {"valid_auc": rep.valid_auc, "valid_ece": rep.valid_ece,
                  "seconds": rep.seconds, "epochs": rep.epochs, "best_epoch": rep.best_epoch}
    out["best"] = max((a for a in algos), key=lambda a: out[a]["valid_auc"])
    return out
