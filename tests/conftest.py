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


@pytest.fixture(scope="session")
def tiny_demo(tmp_path_factory):
    """The demo at CI size, run once per test session: (out folder, result, printed text)."""
    import io

    from trainers.demo import DemoConfig, run_demo

    cfg = DemoConfig(n_train=4, n_val=3, size=32, native_height=32, steps=4, batch_size=2,
                     gan_steps=3, gan_filters=4, n_resamples=200, n_samples=2, report_frames=2)
    out = tmp_path_factory.mktemp("demo") / "results"
    buf = io.StringIO()
    result = run_demo(out, cfg, show_progress=False, file=buf)
    return out, result, buf.getvalue(), cfg
