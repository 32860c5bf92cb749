"""Meta-training entry point: featurise, meta-train with early stopping, calibrate, report."""

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
from meta_engine.model.features import SequenceFeatures, featurize_sequence
from meta_engine.model.student import Chunks, MetisConfig, MetisNet, make_chunks
from meta_engine.types import Dataset


def max_skills(*datasets: Dataset) -> int:
    return max([1] + [int(s.skills.shape[1]) for d in datasets for s in d.sequences])


def dataset_chunks(net_cfg: MetisConfig, data: Dataset) -> tuple[Chunks, list[SequenceFeatures]]:
    feats = [featurize_sequence(s, net_cfg.n_skills) for s in data.sequences]
    return make_chunks(feats, net_cfg.window, net_cfg.chunk, net_cfg.max_skills), feats


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


def fit_platt(net: MetisNet, logits: np.ndarray, y: np.ndarray) -> None:
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
    net.calib_a.fill_(float(ab[0].detach()))
    net.calib_b.fill_(float(ab[1].detach()))


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

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _valid_scores(net: MetisNet, ch: Chunks, calibrated: bool) -> tuple[np.ndarray, np.ndarray]:
    z = predict_chunks(net, ch, calibrated=calibrated)
    tgt = ch.target[:, net.cfg.window:].cpu().numpy()
    y = ch.y[:, net.cfg.window:].cpu().numpy()
    return z[tgt], y[tgt]


def meta_train(train: Dataset, valid: Dataset, cfg: MetisConfig | None = None,
               device: torch.device | str = "cpu", max_minutes: float = 20.0,
               progress: bool = True, **overrides: Any) -> tuple[MetisNet, TrainReport]:
    """Meta-train on `train` students (tasks), early-stop and calibrate on `valid` students."""
    t0 = time.perf_counter()
    if cfg is None:
        cfg = MetisConfig(n_items=max(train.n_items, valid.n_items),
                          n_skills=max(train.n_skills, valid.n_skills),
                          max_skills=max_skills(train, valid))
    for k, v in overrides.items():
        setattr(cfg, k, v)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    dev = torch.device(device)
    net = MetisNet(cfg).to(dev)
    tr_ch, _ = dataset_chunks(cfg, train)
    va_ch, _ = dataset_chunks(cfg, valid)
    tr_ch, va_ch = tr_ch.to(dev), va_ch.to(dev)
    algo = MetaAlgorithm(net, cfg.algo)
    best_auc, best_state, best_epoch, bad, steps = -1.0, None, 0, 0, 0
    history: list[dict] = []
    deadline = t0 + 60.0 * max_minutes
    epoch = 0
    for epoch in range(1, cfg.max_epochs + 1):
        order = rng.permutation(len(tr_ch))
        batches = [order[i:i + cfg.batch] for i in range(0, len(order), cfg.batch)]
        bar = tqdm(batches, desc=f"{cfg.algo} epoch {epoch}", disable=not progress,
                   leave=False)
        losses = []
        for idx in bar:
            losses.append(algo.train_step(tr_ch.subset(idx)))
            steps += 1
            if len(losses) % 20 == 0:
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
            if time.perf_counter() > deadline:
                break
        z, y = _valid_scores(net, va_ch, calibrated=False)
        auc, _ = auc_ece(1 / (1 + np.exp(-z)), y)
        history.append({"epoch": epoch, "train_loss": float(np.mean(losses)),
                        "valid_auc": auc, "elapsed_s": time.perf_counter() - t0})
        if progress:
            tqdm.write(f"[{cfg.algo}] epoch {epoch} loss {np.mean(losses):.4f} "
                       f"valid AUC {auc:.4f} ({time.perf_counter() - t0:.0f}s)")
        if auc > best_auc + 1e-4:
            best_auc, best_state, best_epoch, bad = auc, copy.deepcopy(net.state_dict()), epoch, 0
        else:
            bad += 1
        if bad >= cfg.patience or time.perf_counter() > deadline:
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    z, y = _valid_scores(net, va_ch, calibrated=False)
    _, ece_raw = auc_ece(1 / (1 + np.exp(-z)), y)
    fit_platt(net, z, y)
    zc, _ = _valid_scores(net, va_ch, calibrated=True)
    auc, ece = auc_ece(1 / (1 + np.exp(-zc)), y)
    net.cpu()
    report = TrainReport(cfg.algo, epoch, steps, time.perf_counter() - t0, best_epoch, auc, ece,
                         ece_raw, history)
    return net, report


@torch.no_grad()
def predict_dataset(net: MetisNet, data: Dataset, device: torch.device | str = "cpu",
                    batch: int = 256) -> list[np.ndarray]:
    """Strict prefix predictions P(correct) for every interaction of every sequence."""
    dev = torch.device(device)
    net = net.to(dev)
    ch, _ = dataset_chunks(net.cfg, data)
    z = predict_chunks(net, ch.to(dev), batch=batch, calibrated=True)
    logits = unchunk(net.cfg, ch, z, [len(s) for s in data.sequences])
    return [1.0 / (1.0 + np.exp(-x)) for x in logits]


def compare_algorithms(train: Dataset, valid: Dataset, algos: tuple[str, ...] = ALGORITHMS,
                       minutes_each: float = 3.0, device: str = "cpu", progress: bool = False,
                       **overrides: Any) -> dict:
    """Meta-train each algorithm under the same budget; report valid AUC/ECE and time."""
    out: dict = {}
    for a in algos:
        _, rep = meta_train(train, valid, device=device, max_minutes=minutes_each,
                            progress=progress, algo=a, **overrides)
        out[a] = {"valid_auc": rep.valid_auc, "valid_ece": rep.valid_ece,
                  "seconds": rep.seconds, "epochs": rep.epochs, "best_epoch": rep.best_epoch}
    out["best"] = max((a for a in algos), key=lambda a: out[a]["valid_auc"])
    return out
