import os
import sys
from pathlib import Path

# One BLAS thread: the bootstraps' small matrix products wait on BLAS worker threads when the
# cores are busy (measured 4x slower on a loaded 2-core machine). Only effective when numpy is
# not loaded yet, which is the case when pytest reads this file.
if "numpy" not in sys.modules:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

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


@pytest.fixture(autouse=True)
def score_intervals_hold_their_estimates(monkeypatch):
    """Every score file any test writes is checked: each interval contains its estimate.

    All score files go through ``p2peval.report.scorefile.write_json_atomic``; a test that wrote
    one with an interval excluding its estimate fails at teardown.
    """
    from interval_check import interval_violations
    from p2peval.report import scorefile

    written: list[tuple[str, list[str]]] = []
    original = scorefile.write_json_atomic

    def checked(path, obj):
        out = original(path, obj)
        if isinstance(obj, dict) and str(obj.get("schema", "")).startswith("p2peval.score/"):
            written.append((str(path), interval_violations(obj)))
        return out

    monkeypatch.setattr(scorefile, "write_json_atomic", checked)
    yield
    bad = [f"{p}: {v}" for p, vs in written for v in vs]
    assert not bad, "intervals excluding their estimate:\n" + "\n".join(bad)


@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway PostgreSQL 15 server on a free local port, for the whole test run."""
    from studies import pgtemp
    assert pgtemp.available(), f"PostgreSQL binaries not found in {pgtemp.PG_BIN} (make system-deps installs them)"
    with pgtemp.temporary_postgres() as url:
        yield url
