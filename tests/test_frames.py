"""``p2peval.load_scores``: score files as a DataFrame, checked value by value against the JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import p2peval
from p2peval.core.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
SCORES = sorted((ROOT / "results" / "toycity-losses" / "scores").glob("*.json"))


def test_every_value_of_every_file_is_one_row():
    assert SCORES, "committed score files are missing"
    df = p2peval.load_scores(SCORES)
    expected = 0
    for path in SCORES:
        score = json.loads(path.read_text())
        for key, value in score["values"].items():
            expected += 1
            row = df[(df.file == str(path)) & (df.key == key)]
            assert len(row) == 1
            row = row.iloc[0]
            assert row.value == value and row.metric == score["metric"] and row.label == score["label"]
            assert [row.ci_low, row.ci_high] == score["ci"][key]
            assert row.se == score["ci"][f"{key}_se"] and row.ci_method == score["ci"]["method"]
            assert row.higher_is_better == score["higher_is_better"][key]
    assert len(df) == expected
    assert df.value.dtype == float


def test_labels_replace_stored_ones_and_bad_files_are_refused(tmp_path):
    df = p2peval.load_scores(SCORES[:2], labels=["x", "y"])
    assert sorted(set(df.label)) == ["x", "y"]
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": 1}')
    with pytest.raises(InputError):
        p2peval.load_scores([bad])


def test_import_p2peval_stays_light():
    import subprocess
    code = "import sys, p2peval; print('pandas' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
