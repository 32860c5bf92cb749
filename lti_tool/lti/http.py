"""Outbound HTTP with bounded time and size: every call to a platform goes through here."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import requests


class FetchError(Exception):
    """The remote could not be reached or answered something unusable."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    links: dict[str, Any] = field(default_factory=dict)

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise FetchError("the response is not JSON", transient=False) from exc


def send(
    method: str,
    url: str,
    *,
    timeout_s: float,
    max_bytes: int,
    session: requests.Session | None = None,
    verify: bool | str = True,
    **kwargs: Any,
) -> Reply:
    """One request, read at most `max_bytes`; connection problems raise a transient FetchError."""
    http = session or requests
    try:
        resp = http.request(
            method, url, timeout=(timeout_s, timeout_s), stream=True, verify=verify, **kwargs
        )
    except requests.Timeout as exc:
        raise FetchError(f"timed out calling {url}", transient=True) from exc
    except requests.RequestException as exc:
        raise FetchError(f"could not reach {url}: {type(exc).__name__}", transient=True) from exc
    try:
        chunks = []
        size = 0
        for chunk in resp.iter_content(64 * 1024):
            size += len(chunk)
            if size > max_bytes:
                raise FetchError(f"response from {url} exceeds {max_bytes} bytes", transient=False)
            chunks.append(chunk)
    except requests.RequestException as exc:
        raise FetchError(f"reading {url} failed: {type(exc).__name__}", transient=True) from exc
    finally:
        resp.close()
    return Reply(resp.status_code, dict(resp.headers), b"".join(chunks), dict(resp.links))
