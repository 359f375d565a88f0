import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import torch

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FIXTURES = SHARED / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"shared fixtures not found at {FIXTURES}")
    return FIXTURES


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny networks run faster on one thread than waiting on a second one on a busy machine.

    Use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``.
    """
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:  # the server refuses to run as root
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway PostgreSQL 15 server on a free local port, for the whole test run."""
    from studies.server import free_port
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL binaries not found in {PG_BIN} (make system-deps installs them)")
    d = Path(tempfile.mkdtemp(prefix="p2peval-pg-"))
    if os.geteuid() == 0:
        shutil.chown(d, "postgres")
    port = free_port()
    subprocess.run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(d / "data"), "-A", "trust",
                                 "-U", "postgres"]), check=True, capture_output=True)
    subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(d / "data"), "-l", str(d / "log"),
                                 "-w", "-o", f"-p {port} -k {d} -c listen_addresses=127.0.0.1",
                                 "start"]), check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(d / "data"), "-m", "fast",
                                     "stop"]), capture_output=True)
        shutil.rmtree(d, ignore_errors=True)
