"""The Metis student model (shared parts + per-student fast weights) and its features."""

from meta_engine.model.student import Chunks, MetisConfig, MetisNet, make_chunks

__all__ = ["Chunks", "MetisConfig", "MetisNet", "make_chunks"]
