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
