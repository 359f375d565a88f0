"""``p2peval reproduce toycity-smoke``: the whole chain at CI size, its outputs, resume, bad input."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from p2peval.cli import main
from trainers.reproduce import PRESETS, build_chain, get_preset
from p2peval.report.scorefile import read_score

ROOT = Path(__file__).resolve().parents[1]


def _run(args, timeout=240):
    return subprocess.run([sys.executable, "-m", "p2peval", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def test_presets_are_frozen_data():
    assert {"toycity-smoke", "toycity-losses"} <= set(PRESETS.names())
    p = get_preset("toycity-losses")
    assert p.size == 128 and set(p.variants) == {"l1", "gan", "cgan", "l1+gan", "l1+cgan"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.size = 64  # frozen: a preset cannot be changed after it is registered
    # Every step names its outputs and a command.
    ch = build_chain(p, Path("/nonexistent/out"))
    assert all(s.outputs and s.command for s in ch.steps)
    assert sum(s.name.startswith("color-hist") for s in ch.steps) == 6


@pytest.mark.slow
def test_smoke_chain_end_to_end_and_resume(tmp_path):
    out = tmp_path / "smoke"
    r = _run(["reproduce", "toycity-smoke", "--out", str(out), "--quiet"])
    assert r.returncode == 0, r.stderr[-3000:]
    rows = ["l1", "l1+cgan", "ground_truth"]
    for row in rows:
        fcn = read_score(out / "scores" / f"{row}.fcn-score.json")
        col = read_score(out / "scores" / f"{row}.color-hist.json")
        assert fcn["metric"] == "fcn-score" and col["metric"] == "color-hist"
        assert fcn["label"] == col["label"]  # joined into one table row
        assert (out / "scores" / col["frames_file"]).is_file()
        assert (out / "scores" / fcn["frames_file"]).is_file()  # per-frame confusions, copied along
    # The ground truth is its own colour reference: intersection 1 in every channel.
    gt = read_score(out / "scores" / "ground_truth.color-hist.json")
    assert all(v == pytest.approx(1.0) for v in gt["values"].values())
    table = (out / "table.md").read_text()
    for label in ("| L1 | measured", "| L1+cGAN | measured", "| ground truth | measured",
                  "| L1+cGAN (published) | published [losses]", "published [color-losses]"):
        assert label in table
    assert "no significance marks" not in table  # paired comparisons were possible
    assert (out / "table.tex").read_text().startswith(r"\begin{tabular}")
    assert (out / "color.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / ".gitignore").read_text().strip().endswith("work/")
    readme = (out / "README.md").read_text()
    for f in ("table.md", "color.png", "scores/l1.color-hist.json", "scores/ground_truth.fcn-score.json",
              "p2peval color-hist", "p2peval scorer train", "p2peval ablation run losses"):
        assert f in readme
    record = json.loads((out / "reproduce.json").read_text())
    assert record["preset"]["name"] == "toycity-smoke"
    assert not any(s["skipped"] for s in record["steps"].values())
    # Everything the README lists at the top level exists.
    for s in record["steps"].values():
        for f in s["outputs"]:
            assert (out / f).exists(), f
    # Rerun: every finished step is skipped; only the table and the plot are rebuilt.
    r = _run(["reproduce", "toycity-smoke", "--out", str(out), "--quiet"])
    assert r.returncode == 0, r.stderr[-3000:]
    record = json.loads((out / "reproduce.json").read_text())
    rebuilt = [n for n, s in record["steps"].items() if not s["skipped"]]
    assert rebuilt == ["table", "colour plot"]
    assert "done, skipped" in r.stdout


def test_bad_input(tmp_path, capsys):
    assert main(["reproduce", "nope", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "unknown preset 'nope'; valid choices: toycity-cyclegan, toycity-losses, toycity-smoke" in err
    assert not (tmp_path / "x").exists()
    # An output folder made by another preset is refused before anything runs.
    out = tmp_path / "y"
    out.mkdir()
    (out / "reproduce.json").write_text(json.dumps({"preset": get_preset("toycity-losses").settings()}))
    assert main(["reproduce", "toycity-smoke", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("p2peval: error:") == 1 and "made by another version of preset" in err
    assert main(["reproduce", "toycity-smoke", "--out", str(out), "--threads", "0"]) == 2
    assert "argument --threads: must be an integer >= 1" in capsys.readouterr().err
