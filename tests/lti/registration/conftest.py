"""A fake dynamic-registration platform served over HTTPS on 127.0.0.1, trusted by `requests`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.https import HttpsServer
from tests.support.registration_platform import PlatformState, create_platform_app


@pytest.fixture()
def platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PlatformState]:
    state = PlatformState()
    server = HttpsServer(create_platform_app(state), tmp_path / "platform-cert").start()
    # The platform's self-signed certificate is trusted the way an operator would trust a CA.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.cert))
    state.base_url = server.url
    yield state
    server.stop()
