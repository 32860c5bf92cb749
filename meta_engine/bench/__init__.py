"""Benchmark harness for the student models (strict protocol)."""

from meta_engine.bench.engine import METHODS, parse_folds, run_engine_bench

__all__ = ["METHODS", "parse_folds", "run_engine_bench"]
