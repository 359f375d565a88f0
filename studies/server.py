"""Start and stop a study server in a child process (for tests, load runs and scripts)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StudyServer:
    """``p2peval study serve`` on a free local port; ``url`` once ``start()`` returned."""

    def __init__(self, study: str | Path, db: str | None = None, port: int | None = None,
                 log: str | Path | None = None, env: dict | None = None):
        self.study, self.db = Path(study), db
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = Path(log) if log else None
        self.env = env or {}
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> "StudyServer":
        cmd = [sys.executable, "-m", "p2peval", "study", "serve", str(self.study),
               "--port", str(self.port)]
        if self.db:
            cmd += ["--db", self.db]
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL
        # Own process group: stopping the server also stops its streamlit child.
        self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                     env={**os.environ, **self.env}, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"study server exited with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"study server did not answer on {self.url} within {timeout} s")

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far by the server's processes (Linux /proc)."""
        if not self.proc:
            return 0.0
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.proc.pid:  # process group id
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / ticks

    def kill(self) -> None:
        """SIGKILL the whole server process group (a crash, for data-safety tests)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> "StudyServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
