"""adapt + select for one student on one thread, the shipped default core serving a new course.

Run: nice -n 19 .venv/bin/python benchmarks/2026-12-03/latency.py [OUT.json]
`api.measure_latency` (50-answer history, 1000-item bank prepared once, as a worker does per
batch), five repeats so one noisy repeat on the shared 2-core machine is visible, with the
course's tables as a worker builds them for a course the core never saw (`course_tables`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from meta_engine import api
from meta_engine.model.tables import InMemoryTableStore
from meta_engine.serve import course_tables


def main(out: Path | None) -> dict:
    model = api.default_model()
    store = InMemoryTableStore()
    # A new course: nothing learned online yet, so the tables are the priors (the worker's case
    # at a course's first answer; later deltas add entries, not work per student).
    tables = course_tables(model, "latency-course", store.load((model.version, "latency-course")))
    runs = [api.measure_latency(model, history_len=50, bank_size=1000, threads=1, n=200,
                                tables=tables) for _ in range(5)]
    p50s = [r["p50_ms"] for r in runs]
    report = {"model": model.version, "what": runs[0]["what"], "threads": 1,
              "history_len": 50, "bank_size": 1000, "repeats": runs,
              "p50_ms_median_of_repeats": float(np.median(p50s)),
              "p50_ms_range": [min(p50s), max(p50s)], "target_p50_ms": 5.0}
    if out is not None:
        out.write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]) if len(sys.argv) > 1 else None), indent=2))
