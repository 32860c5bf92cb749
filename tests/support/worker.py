"""A real Celery worker process (prefork, one child) on the test's Redis and database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

VENV_BIN = Path(sys.executable).parent


class WorkerProcess:
    def __init__(self, env: dict[str, str], log: Path, *, beat: bool = False) -> None:
        self.env = {**os.environ, **env}
        self.log = log
        # --beat embeds the periodic scheduler, its schedule file beside the log.
        self.beat = ["-B", "-s", str(log.with_suffix(".beat-schedule"))] if beat else []
        self.proc: subprocess.Popen[bytes] | None = None
        # The deterministic stand-in engine is swapped in by a test-only Celery app.
        real = self.env.get("METIS_TEST_ENGINE") == "real"
        self.app = "workers.main" if real else "tests.support.worker_app"

    def start(self, timeout: float = 180.0) -> WorkerProcess:
        self.log.write_text("")
        handle = self.log.open("ab")
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "celery"), "-A", self.app, "worker", "-Q",
             "adapt,passback,maintenance", "-P", "prefork", "-c", "1", "--without-gossip",
             "--without-mingle", "--without-heartbeat", "-l", "info",
             "-n", f"test{os.getpid()}@%h", *self.beat],
            env=self.env, stdout=handle, stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[2],
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.log.read_text(errors="replace"):
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError("worker did not start:\n" + self.log.read_text(errors="replace")[-3000:])

    def children(self) -> list[int]:
        assert self.proc is not None
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(p) for p in path.read_text().split()] if path.exists() else []

    def kill_child(self) -> int:
        """SIGKILL the pool process running the task (the parent stays and requeues it)."""
        pid = self.children()[0]
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> WorkerProcess:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def worker_env(database_url: str, redis_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        "METIS_MODE": "test",
        "METIS_SECRET_KEY": "test-secret",
        "METIS_DATABASE_URL": database_url,
        "METIS_REDIS_URL": redis_url,
        "METIS_DATA_DIR": str(data_dir),
        "METIS_WORKER_DEVICE": "cpu",
        "METIS_ADAPT_BATCH_MAX": "16",
        "METIS_ADAPT_BATCH_WAIT_MS": "5",
        "METIS_THREADS": "1",
    }
    env.update(extra)
    return env
