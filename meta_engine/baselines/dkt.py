"""Deep Knowledge Tracing (Piech et al. 2015), question-aware when the data has question ids.

Input at step t is the embedding of (skill, correct) of interaction t-1 (summed over its
skills for multi-skill items) plus, when the data carries question ids, the embedding of
(question, correct); a start token stands in before the first answer. The LSTM state h after
t-1 answers gives per-skill logits; interaction t's logit is the mean of the logits of its
skills plus, with question ids, a question term h . e(q_t) + b(q_t) (a question the training
data never had keeps 0 there). Because the input is shifted by one, the prediction for t never
sees answer t.

Training cuts sequences into windows of ``window`` answers (each restarting from the start
token, as pyKT does); prediction runs each whole sequence, so every prediction uses the full
history. Early stopping on valid AUC, bounded by epochs only (``max_epochs``, ``patience``): a
wall-clock cap made the result depend on the machine's load (``max_seconds`` stays available,
off by default).
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from meta_engine.baselines.common import has_items
from meta_engine.metrics import auc
from meta_engine.types import Dataset

# inputs (skill tokens), question token, target skills, target question, answers
Chunk = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
START = 1  # input id of the start token; 0 is padding; (id s, correct c) -> 2 + 2s + c


class _Net(nn.Module):
    def __init__(self, n_skills: int, n_items: int, emb: int, hidden: int,
                 dropout: float) -> None:
        super().__init__()
        self.emb = nn.Embedding(2 * (n_skills + 1) + 2, emb, padding_idx=0)
        self.n_items = n_items
        if n_items:
            self.emb_q = nn.Embedding(2 * (n_items + 1) + 2, emb, padding_idx=0)
            self.out_q = nn.Embedding(n_items + 1, hidden, padding_idx=0)
            self.bias_q = nn.Embedding(n_items + 1, 1, padding_idx=0)
            nn.init.zeros_(self.out_q.weight)
            nn.init.zeros_(self.bias_q.weight)
        self.lstm = nn.LSTM(emb, hidden, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, n_skills + 1)

    def forward(self, x: torch.Tensor, xq: torch.Tensor, tgt: torch.Tensor, tq: torch.Tensor,
                lengths: torch.Tensor) -> torch.Tensor:
        """x: (B, T, K) skill input ids; xq (B, T) question input ids; tgt (B, T, K) target
        skills (0 pad); tq (B, T) target questions (0 = none) -> (B, T) logits."""
        e = self.emb(x).sum(dim=2)
        if self.n_items:
            e = e + self.emb_q(xq)
        packed = pack_padded_sequence(e, lengths.cpu(), batch_first=True, enforce_sorted=False)
        h, _ = self.lstm(packed)
        h, _ = pad_packed_sequence(h, batch_first=True, total_length=x.shape[1])
        h = self.drop(h)
        logits = self.out(h)  # (B, T, S+1)
        sel = torch.gather(logits, 2, tgt)  # (B, T, K)
        mask = (tgt > 0).float()
        z = (sel * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)
        if self.n_items:
            z = z + (h * self.out_q(tq)).sum(-1) + self.bias_q(tq).squeeze(-1)
        return z


def _encode(skills: np.ndarray, items: np.ndarray, correct: np.ndarray, n_skills: int,
            n_items: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(skill inputs, question inputs, target skills, target questions) for one sequence:
    inputs shifted right by one behind a start token."""
    sk = np.where(skills <= n_skills, skills, 0)
    ids = np.where(sk > 0, 2 + 2 * sk + correct[:, None], 0)
    x = np.zeros_like(ids)
    x[0, 0] = START
    x[1:] = ids[:-1]
    it = np.where((items > 0) & (items <= n_items), items, 0)
    qids = np.where(it > 0, 2 + 2 * it + correct, 0)
    xq = np.zeros_like(qids)
    xq[0] = START
    xq[1:] = qids[:-1]
    return x, xq, sk, it


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
        max_seconds: float | None = None,
        seed: int = 0,
        use_items: bool = True,
    ) -> None:
        self.device = torch.device(device)
        self.emb, self.hidden, self.dropout = emb, hidden, dropout
        self.lr, self.batch_size, self.window = lr, batch_size, window
        self.max_epochs, self.patience, self.max_seconds = max_epochs, patience, max_seconds
        self.seed = seed
        self.use_items = use_items
        self.n_skills = 0
        self.n_items = 0
        self.net: _Net | None = None
        self.epochs_run = 0

    def _batches(self, chunks: list[Chunk], order: np.ndarray) -> list[tuple[torch.Tensor, ...]]:
        out: list[tuple[torch.Tensor, ...]] = []
        for b in range(0, len(order), self.batch_size):
            part = [chunks[i] for i in order[b : b + self.batch_size]]
            t_max = max(c[0].shape[0] for c in part)
            k = part[0][0].shape[1]
            x = np.zeros((len(part), t_max, k), dtype=np.int64)
            tg = np.zeros_like(x)
            xq = np.zeros((len(part), t_max), dtype=np.int64)
            tq = np.zeros_like(xq)
            y = np.zeros((len(part), t_max), dtype=np.float32)
            for j, (xi, xqi, ti, tqi, yi) in enumerate(part):
                n = len(yi)
                x[j, :n], xq[j, :n], tg[j, :n], tq[j, :n], y[j, :n] = xi, xqi, ti, tqi, yi
            lengths = torch.tensor([len(c[4]) for c in part])
            out.append((torch.from_numpy(x), torch.from_numpy(xq), torch.from_numpy(tg),
                        torch.from_numpy(tq), torch.from_numpy(y), lengths))
        return out

    def _chunks(self, ds: Dataset, window: int | None) -> list[Chunk]:
        out: list[Chunk] = []
        for s in ds.sequences:
            w = window or max(len(s), 1)
            for a in range(0, len(s), w):
                x, xq, tg, tq = _encode(s.skills[a : a + w], s.items[a : a + w],
                                        s.correct[a : a + w], self.n_skills, self.n_items)
                out.append((x, xq, tg, tq, s.correct[a : a + w].astype(np.float32)))
        return out

    def fit(self, train: Dataset, valid: Dataset) -> None:
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        self.n_skills = train.n_skills
        self.n_items = train.n_items if self.use_items and has_items(train) else 0
        net = _Net(self.n_skills, self.n_items, self.emb, self.hidden, self.dropout
                   ).to(self.device)
        self.net = net
        opt = torch.optim.Adam(net.parameters(), lr=self.lr)
        loss_fn = nn.BCEWithLogitsLoss(reduction="sum")
        chunks = self._chunks(train, self.window)
        yv = np.concatenate([s.correct for s in valid.sequences]) if valid.sequences else None
        best, best_state, bad = -np.inf, None, 0
        t0 = time.monotonic()
        for epoch in range(self.max_epochs):
            net.train()
            for x, xq, tg, tq, y, lengths in self._batches(chunks,
                                                            rng.permutation(len(chunks))):
                dev = self.device
                logits = net(x.to(dev), xq.to(dev), tg.to(dev), tq.to(dev), lengths)
                y = y.to(dev)
                mask = (torch.arange(x.shape[1])[None, :] < lengths[:, None]).to(dev)
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
            late = self.max_seconds is not None and time.monotonic() - t0 > self.max_seconds
            if bad >= self.patience or late:
                break
        if best_state is not None:
            net.load_state_dict(best_state)

    @torch.no_grad()
    def predict(self, data: Dataset) -> list[np.ndarray]:
        if self.net is None:
            raise RuntimeError("fit first")
        self.net.eval()
        chunks = self._chunks(data, None)  # whole sequences: the full history for every t
        lengths = np.array([len(c[4]) for c in chunks])
        order = np.argsort(-lengths, kind="stable")  # similar lengths batch together
        out: list[np.ndarray] = [np.zeros(0)] * len(chunks)
        pos = 0
        dev = self.device
        for x, xq, tg, tq, _, ln in self._batches(chunks, order):
            p = torch.sigmoid(self.net(x.to(dev), xq.to(dev), tg.to(dev), tq.to(dev), ln)
                              ).cpu().numpy()
            for j in range(p.shape[0]):
                out[int(order[pos + j])] = np.clip(p[j, : int(ln[j])].astype(np.float64),
                                                   1e-4, 1 - 1e-4)
            pos += p.shape[0]
        return out
