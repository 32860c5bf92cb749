"""Serve WSGI apps over HTTPS on 127.0.0.1 in a background thread, for end-to-end tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from lti_tool.devkit.certs import ensure_self_signed


class HttpsServer:
    """A threaded Werkzeug server with a self-signed certificate for 127.0.0.1."""

    def __init__(self, app: Callable[..., Any], cert_dir: Path) -> None:
        self.cert, self.key = ensure_self_signed(cert_dir, ("localhost",))
        self.server: BaseWSGIServer = make_server(
            "127.0.0.1", 0, app, threaded=True, ssl_context=(str(self.cert), str(self.key))
        )
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        # The name clients use for it: "localhost" puts it on another site than 127.0.0.1
        # (cookies and frames go by site, and ports do not make one).
        self.host = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def start(self) -> HttpsServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
