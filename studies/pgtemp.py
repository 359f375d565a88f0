"""A throwaway PostgreSQL server on a free loopback port (for tests and benchmarks).

Uses the Debian PostgreSQL 15 binaries (``make system-deps``); as root, the server runs as the
``postgres`` user (it refuses to run as root).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def available() -> bool:
    return (PG_BIN / "initdb").exists()


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@contextlib.contextmanager
def temporary_postgres(max_connections: int = 200) -> Iterator[str]:
    """Start a cluster in a temporary folder; yields its URL; stops and deletes it afterwards."""
    from studies.server import free_port
    d = Path(tempfile.mkdtemp(prefix="p2peval-pg-"))
    if os.geteuid() == 0:
        shutil.chown(d, "postgres")
    port = free_port()
    subprocess.run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(d / "data"), "-A", "trust",
                                 "-U", "postgres"]), check=True, capture_output=True)
    opts = f"-p {port} -k {d} -c listen_addresses=127.0.0.1 -c max_connections={max_connections}"
    subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(d / "data"), "-l",
                                 str(d / "log"), "-w", "-o", opts, "start"]),
                   check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(d / "data"), "-m", "fast",
                                     "stop"]), capture_output=True)
        shutil.rmtree(d, ignore_errors=True)
