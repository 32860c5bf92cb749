"""Benchmark harness for the student models (strict protocol)."""

from meta_engine.bench.engine import METHODS, parse_folds, run_engine_bench
from meta_engine.bench.leak import check_no_leak

__all__ = ["METHODS", "check_no_leak", "parse_folds", "run_engine_bench"]
