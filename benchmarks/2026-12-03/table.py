"""Print the README's Markdown table from the transfer JSON files (no figure typed by hand).

Run: .venv/bin/python benchmarks/2026-12-03/table.py benchmarks/2026-12-03/transfer_2015.json ...
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _f(v: Any) -> str:
    return "-" if v is None else f"{v:.4f}"


def rows(path: Path) -> list[str]:
    rep = json.loads(path.read_text())
    out = []
    for name, m in rep["methods"].items():
        w = m.get("windows", {})
        g = m.get("growth", {})
        cells = [rep["target"], name, _f(m.get("auc")), _f(m.get("ece")),
                 *(_f(w.get(k, {}).get("auc")) for k in ("1-5", "6-20", "21+")),
                 *(_f(g.get(k, {}).get("auc")) for k in ("1-50", "51-200", "201-800"))]
        out.append("| " + " | ".join(cells) + " |")
    return out


def main(paths: list[str]) -> None:
    print("| target | method | AUC | ECE | AUC 1-5 | AUC 6-20 | AUC 21+ "
          "| students 1-50 | 51-200 | 201-800 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for p in paths:
        for r in rows(Path(p)):
            print(r)


if __name__ == "__main__":
    main(sys.argv[1:])
