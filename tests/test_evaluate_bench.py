"""``p2peval bench fcn-score`` runs and writes its JSON (figures are not asserted: speed is
measured by the benchmark, not by tests)."""

from __future__ import annotations

import json

from p2peval.cli import main


def test_bench_fcn_score_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "fcn-score", "--arch", "fcn8s-tiny", "--protocol", "fast", "--n", "2",
                 "--repeats", "1", "--label-size", "32x64", "--workers", "0", "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads(out.read_text())
    assert printed["runs"] == saved["runs"]
    assert saved["command"].startswith("p2peval ") and saved["protocol"] == "fast"
    assert saved["eval_size"] == [256, 256] and saved["label_size"] == [32, 64]
    assert saved["end_to_end_images_per_s"] > 0 and saved["forward_only_images_per_s"] > 0
    assert saved["ratio_end_to_end_to_forward"] == saved["end_to_end_images_per_s"] / saved["forward_only_images_per_s"]
