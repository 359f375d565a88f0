import os
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


@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway PostgreSQL 15 server on a free local port, for the whole test run."""
    from studies import pgtemp
    if not pgtemp.available():
        pytest.skip(f"PostgreSQL binaries not found in {pgtemp.PG_BIN} (make system-deps installs them)")
    with pgtemp.temporary_postgres() as url:
        yield url
