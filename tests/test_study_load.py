"""Load: 20 participants at once, each in its own browser context, against one study server.

No answer may be lost or stored twice. (The timing figures are recorded by
``python -m studies.loadtest --out results/benchmarks/study_load.json``; here they are only
checked to exist, since this machine's load decides them.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from studies.loadtest import CHROMIUM, answer_to_ready_ms, percentile, run_load

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_latency_pairing_and_percentile():
    assert answer_to_ready_ms([10.0, 50.0, 90.0], [5.0, 30.0, 70.0]) == [20.0, 20.0]
    import numpy as np
    values = [float(v) for v in np.random.default_rng(0).random(37)]
    assert percentile(values, 95) == pytest.approx(np.quantile(values, 0.95))


def test_twenty_participants_at_once(tmp_path):
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} not installed (make system-deps installs Debian's chromium)"
    r = run_load(20, workdir=tmp_path, main_trials=3, practice_trials=1, display_ms=50, size=64,
                 timeout_s=150)
    assert r["answers_expected"] == 20 * 4
    assert r["answers_stored"] == r["answers_expected"]
    assert r["duplicate_answers"] == 0
    assert r["sessions"] == r["sessions_finished"] == 20
    lat = r["answer_to_next_trial_ready_ms"]
    assert lat["n"] == 20 * 2  # main answers followed by another trial
    assert 0 < lat["median"] <= lat["p95"] <= lat["max"]
