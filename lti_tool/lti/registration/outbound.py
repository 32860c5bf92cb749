"""Bounded HTTP calls to a platform during registration: URL policy, timeouts, size limits.

Redirects are not followed: the URL we checked must be the URL we talk to.
"""

from __future__ import annotations

import ipaddress
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from lti_tool.settings import Settings


class OutboundError(Exception):
    """A platform URL or response was refused; the message says why."""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise OutboundError("the platform did not answer with JSON") from None


def is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, settings: Settings, what: str) -> None:
    """HTTPS only; loopback hosts (any scheme) only with METIS_ALLOW_LOOPBACK_PLATFORMS."""
    if not isinstance(url, str) or len(url) > 2000:
        raise OutboundError(f"{what} is not a URL")
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        raise OutboundError(f"{what} is not an http(s) URL: {url!r}")
    loopback = is_loopback(host)
    if loopback and not settings.allow_loopback_platforms:
        raise OutboundError(
            f"{what} points at a loopback address ({host}); allowed only with "
            "METIS_ALLOW_LOOPBACK_PLATFORMS=1 in development"
        )
    if parts.scheme == "http" and not loopback:
        raise OutboundError(f"{what} must use HTTPS: {url!r}")


def request(
    method: str,
    url: str,
    settings: Settings,
    what: str,
    *,
    json_body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    check_url(url, settings, what)
    limit = settings.outbound_max_bytes
    try:
        with requests.request(
            method,
            url,
            json=json_body,
            headers={"Accept": "application/json", **(headers or {})},
            timeout=settings.outbound_timeout_s,
            allow_redirects=False,
            stream=True,
        ) as resp:
            declared = resp.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > limit:
                raise OutboundError(f"{what}: the answer is larger than {limit} bytes")
            # requests' timeout is per socket read; a platform that drips bytes is cut off here.
            deadline = time.monotonic() + settings.outbound_timeout_s
            body = bytearray()
            for chunk in resp.iter_content(65536):
                body += chunk
                if time.monotonic() > deadline:
                    raise requests.Timeout()
                if len(body) > limit:
                    raise OutboundError(f"{what}: the answer is larger than {limit} bytes")
            return Response(resp.status_code, bytes(body))
    except requests.Timeout:
        raise OutboundError(f"{what}: no answer within {settings.outbound_timeout_s:g} s") from None
    except requests.exceptions.SSLError:
        raise OutboundError(f"{what}: the TLS certificate was not accepted") from None
    except requests.RequestException as exc:
        raise OutboundError(f"{what}: connection failed ({type(exc).__name__})") from None
