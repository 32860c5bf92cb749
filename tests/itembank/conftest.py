"""Fixtures of the item bank tests: the sample files and the LTI world for the web pages."""

from __future__ import annotations

from pathlib import Path

from tests.lti.conftest import lti_world  # noqa: F401

SAMPLES = Path(__file__).resolve().parent / "samples"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()
