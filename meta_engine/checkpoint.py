"""Versioned checkpoint directories: weights.pt (state dict, loaded weights_only), config.json,
model_card.json. `out/LATEST` names the newest version so a worker can point at `out/`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from meta_engine.model.student import MetisConfig, MetisNet

WEIGHTS, CONFIG, CARD, LATEST = "weights.pt", "config.json", "model_card.json", "LATEST"


def save_checkpoint(net: MetisNet, out: str | Path, card: dict | None = None,
                    version: str | None = None, flat: bool = False) -> Path:
    """Write `out/<version>/` and point `out/LATEST` at it; `flat` writes into `out` itself
    (the shipped checkpoint)."""
    out = Path(out)
    version = version or (card or {}).get("version") or \
        f"metis-{net.cfg.algo}-{time.strftime('%Y%m%dT%H%M%S')}"
    d = out if flat else out / version
    d.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    torch.save(state, d / WEIGHTS)
    (d / CONFIG).write_text(json.dumps(net.cfg.to_dict(), indent=2))
    card = dict(card or {})
    card.setdefault("version", version)
    (d / CARD).write_text(json.dumps(card, indent=2, default=float))
    if not flat:
        (out / LATEST).write_text(version + "\n")
    return d


def resolve_checkpoint_dir(path: str | Path) -> Path:
    """A version dir itself, or a parent holding LATEST (or version dirs: newest by name)."""
    p = Path(path)
    if (p / CONFIG).exists():
        return p
    if (p / LATEST).exists():
        return p / (p / LATEST).read_text().strip()
    versions = sorted(d for d in p.iterdir() if (d / CONFIG).exists()) if p.is_dir() else []
    if not versions:
        raise FileNotFoundError(f"no Metis checkpoint under {p}")
    return versions[-1]


def load_checkpoint(path: str | Path,
                    device: torch.device | str = "cpu") -> tuple[MetisNet, dict, Path]:
    d = resolve_checkpoint_dir(path)
    cfg = MetisConfig.from_dict(json.loads((d / CONFIG).read_text()))
    net = MetisNet(cfg)
    # weights_only: a checkpoint is data, never code (no pickle of arbitrary objects).
    state = torch.load(d / WEIGHTS, map_location="cpu", weights_only=True)
    if "core.w0" not in state:
        raise ValueError(f"{d}: a checkpoint of the earlier Metis model (skill-indexed, "
                         "before the core/tables split); retrain it or use the shipped core")
    net.load_state_dict(state)
    card = json.loads((d / CARD).read_text()) if (d / CARD).exists() else {}
    net.eval()
    return net.to(torch.device(device)), card, d
