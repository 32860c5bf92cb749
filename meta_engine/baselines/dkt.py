"""Deep Knowledge Tracing (Piech et al. 2015), skill level.

Input at step t is the embedding of (skill, correct) of interaction t-1 (summed over its skills
for multi-skill items); a start token stands in before the first answer. The LSTM state after
t-1 answers gives per-skill logits; interaction t's prediction is the mean of the logits of its
skills. Because the input is shifted by one, the prediction for t never sees answer t.

Training cuts sequences into windows of ``window`` answers (each restarting from the start
token, as pyKT does); prediction runs each whole sequence, so every prediction uses the full
history. Early stopping on valid AUC with bounded epochs and a wall-clock budget.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from meta_engine.metrics import auc
from meta_engine.types import Dataset

Chunk = tuple[np.ndarray, np.ndarray, np.ndarray]  # inputs, targets, answers of one window
START = 1  # input id of the start token; 0 is padding; (skill s, correct c) -> 2 + 2s + c


class _Net(nn.Module):
    def __init__(self, n_skills: int, emb: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.emb = nn.Embedding(2 * (n_skills + 1) + 2, emb, padding_idx=0)
        self.lstm = nn.LSTM(emb, hidden, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, n_skills + 1)

    def forward(self, x: torch.Tensor, tgt: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """x: (B, T, K) input ids; tgt: (B, T, K) target skills (0 pad) -> (B, T) logits."""
        e = self.emb(x).sum(dim=2)
        packed = pack_padded_sequence(e, lengths.cpu(), batch_first=True, enforce_sorted=False)
        h, _ = self.lstm(packed)
        h, _ = pad_packed_sequence(h, batch_first=True, total_length=x.shape[1])
        logits = self.out(self.drop(h))  # (B, T, S+1)
        sel = torch.gather(logits, 2, tgt)  # (B, T, K)
        mask = (tgt > 0).float()
        return (sel * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)


def _encode(
    skills: np.ndarray, correct: np.ndarray, n_skills: int
) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, targets) for one sequence: inputs shifted right by one behind a start token."""
    sk = np.where(skills <= n_skills, skills, 0)
    ids = np.where(sk > 0, 2 + 2 * sk + correct[:, None], 0)
    x = np.zeros_like(ids)
    x[0, 0] = START
    x[1:] = ids[:-1]
    return x, sk


class DKT:
    name = "dkt"

    def __init__(
        self,
        device: str | torch.device = "cpu",
        emb: int = 64,
        hidden: int = 128,
        dropout: float = 0.2,
        lr: float = 2e-3,
        batch_size: int = 64,
        window: int = 200,
        max_epochs: int = 15,
        patience: int = 2,
        max_seconds: float = 300.0,
        seed: int = 0,
    ) -> None:
        self.device = torch.device(device)
        self.emb, self.hidden, self.dropout = emb, hidden, dropout
        self.lr, self.batch_size, self.window = lr, batch_size, window
        self.max_epochs, self.patience, self.max_seconds = max_epochs, patience, max_seconds
        self.seed = seed
        self.n_skills = 0
        self.net: _Net | None = None
        self.epochs_run = 0

    def _batches(
        self, chunks: list[Chunk], order: np.ndarray
    ) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
        out = []
        for b in range(0, len(order), self.batch_size):
            part = [chunks[i] for i in order[b : b + self.batch_size]]
            t_max = max(c[0].shape[0] for c in part)
            k = part[0][0].shape[1]
            x = np.zeros((len(part), t_max, k), dtype=np.int64)
            tg = np.zeros_like(x)
            y = np.zeros((len(part), t_max), dtype=np.float32)
            for j, (xi, ti, yi) in enumerate(part):
                x[j, : len(yi)], tg[j, : len(yi)], y[j, : len(yi)] = xi, ti, yi
            lengths = torch.tensor([len(c[2]) for c in part])
            out.append((torch.from_numpy(x), torch.from_numpy(tg), torch.from_numpy(y), lengths))
        return out

    def _chunks(self, ds: Dataset, window: int | None) -> list[Chunk]:
        out: list[Chunk] = []
        for s in ds.sequences:
            w = window or max(len(s), 1)
            for a in range(0, len(s), w):
                x, tg = _encode(s.skills[a : a + w], s.correct[a : a + w], self.n_skills)
                out.append((x, tg, s.correct[a : a + w].astype(np.float32)))
        return out

    def fit(self, train: Dataset, valid: Dataset) -> None:
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        self.n_skills = train.n_skills
        net = _Net(self.n_skills, self.emb, self.hidden, self.dropout).to(self.device)
        self.net = net
        opt = torch.optim.Adam(net.parameters(), lr=self.lr)
        loss_fn = nn.BCEWithLogitsLoss(reduction="sum")
        chunks = self._chunks(train, self.window)
        yv = np.concatenate([s.correct for s in valid.sequences]) if valid.sequences else None
        best, best_state, bad = -np.inf, None, 0
        t0 = time.monotonic()
        for epoch in range(self.max_epochs):
            net.train()
            for x, tg, y, lengths in self._batches(chunks, rng.permutation(len(chunks))):
                x, tg, y = x.to(self.device), tg.to(self.device), y.to(self.device)
                logits = net(x, tg, lengths)
                mask = torch.arange(x.shape[1])[None, :] < lengths[:, None]
                mask = mask.to(self.device)
                loss = loss_fn(logits[mask], y[mask]) / mask.sum()
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(net.parameters(), 5.0)
                opt.step()
            self.epochs_run = epoch + 1
            if yv is None:
                continue
            score = auc(yv, np.concatenate(self.predict(valid)))
            if score > best:
                best, bad = score, 0
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            else:
                bad += 1
            if bad >= self.patience or time.monotonic() - t0 > self.max_seconds:
                break
        if best_state is not None:
            net.load_state_dict(best_state)

    @torch.no_grad()
    def predict(self, data: Dataset) -> list[np.ndarray]:
        if self.net is None:
            raise RuntimeError("fit first")
        self.net.eval()
        chunks = self._chunks(data, None)  # whole sequences: the full history for every t
        lengths = np.array([len(c[2]) for c in chunks])
        order = np.argsort(-lengths, kind="stable")  # similar lengths batch together
        out: list[np.ndarray] = [np.zeros(0)] * len(chunks)
        pos = 0
        for x, tg, _, ln in self._batches(chunks, order):
            p = torch.sigmoid(self.net(x.to(self.device), tg.to(self.device), ln)).cpu().numpy()
            for j in range(p.shape[0]):
                out[int(order[pos + j])] = np.clip(p[j, : int(ln[j])].astype(np.float64),
                                                   1e-4, 1 - 1e-4)
            pos += p.shape[0]
        return out
