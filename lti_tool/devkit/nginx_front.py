"""nginx in front of gunicorn, as the README recommends for production: nginx terminates TLS
and speaks plain HTTP/1.1 with keep-alive to gunicorn on the loopback; gunicorn trusts the
X-Forwarded-Proto of a proxy on 127.0.0.1 (its default `forwarded_allow_ips`), so Metis sees
https requests. Used by `metis bench launch --proxy nginx`; the config is the README's.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# The same proxy settings the README shows: HTTP/1.1 with keep-alive to gunicorn and the
# forwarded headers for every location; the stream location (Server-Sent Events) must not be
# buffered and stays open as long as the page does.
PROXY = """
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        location ~ ^/student/[^/]+/events$ {
            proxy_pass http://metis;
            proxy_buffering off;
            proxy_read_timeout 1h;
        }
        location / {
            proxy_pass http://metis;
        }
"""


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                      else None)
    if found is None:
        raise FileNotFoundError("nginx is not installed (make env installs Debian's nginx)")
    return found


def config(workdir: Path, port: int, upstream_port: int, cert: Path, key: Path) -> str:
    tmp = workdir / "nginx-tmp"
    # Run as root, nginx's workers would otherwise switch to `nobody`, who cannot write here.
    user = f"user {getpass.getuser()};" if os.geteuid() == 0 else ""
    return f"""{user}
worker_processes 1;
pid {workdir / 'nginx.pid'};
error_log {workdir / 'nginx-error.log'} warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp / 'body'};
    proxy_temp_path {tmp / 'proxy'};
    fastcgi_temp_path {tmp / 'fastcgi'};
    uwsgi_temp_path {tmp / 'uwsgi'};
    scgi_temp_path {tmp / 'scgi'};
    upstream metis {{
        server 127.0.0.1:{upstream_port};
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_session_cache shared:SSL:10m;
        client_max_body_size 64m;
{PROXY}
    }}
}}
"""


@contextmanager
def nginx_front(workdir: Path, port: int, upstream_port: int, cert: Path, key: Path
                ) -> Iterator[subprocess.Popen[bytes]]:
    """nginx on 127.0.0.1:`port` (TLS) in front of 127.0.0.1:`upstream_port`, until exit."""
    (workdir / "nginx-tmp").mkdir(parents=True, exist_ok=True)
    conf = workdir / "nginx.conf"
    conf.write_text(config(workdir, port, upstream_port, cert, key))
    log = (workdir / "nginx.log").open("wb")
    proc = subprocess.Popen([nginx_binary(), "-p", str(workdir), "-c", str(conf),
                             "-g", "daemon off;"], stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_listening(proc, port, workdir)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _wait_listening(proc: subprocess.Popen[bytes], port: int, workdir: Path,
                    timeout: float = 60.0) -> None:
    """Until nginx listens; its own error if it exits first (a config it refused)."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            text = (workdir / "nginx.log").read_text(errors="replace")
            raise RuntimeError(f"nginx exited ({proc.returncode}): {text[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nginx not listening on {port} after {timeout:.0f}s") from None
            time.sleep(0.05)
