"""The demo refuses to start over a port another process holds, instead of reporting success."""

from __future__ import annotations

import socket

import click
import pytest

from lti_tool.devkit.demo.runner import ensure_ports_free


def test_busy_port_is_refused_with_a_clear_message() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(click.ClickException, match=f"port {port} is already in use"):
            ensure_ports_free(port)


def test_free_port_passes() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ensure_ports_free(port)
