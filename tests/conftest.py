import os
from pathlib import Path

import pytest
import torch

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """Test data kept in the repository (``tests/fixtures/``; each folder has a README)."""
    assert FIXTURES.is_dir(), f"{FIXTURES} is missing: it is part of the repository"
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
