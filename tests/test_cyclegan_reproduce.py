"""``p2peval reproduce toycity-cyclegan``: the chain's steps, rows and commands (the run itself is
committed under results/toycity-cyclegan/)."""

from pathlib import Path

import pytest

from p2peval.cli import main
from trainers.reproduce import build_chain, get_preset


def test_chain_rows_and_commands():
    p = get_preset("toycity-cyclegan")
    assert p.size == 128 and p.protocol == "cyclegan"
    assert p.published == ("cyclegan-labels2photo", "cyclegan-photo2labels")
    with pytest.raises(Exception):
        p.size = 64  # frozen
    ch = build_chain(p, Path("/nonexistent/out"))
    assert all(s.outputs and s.command for s in ch.steps)
    names = [s.name for s in ch.steps]
    assert names[:3] == ["data", "scorer", "ground-truth row"]
    for row, metrics in (("pix2pix", ("fcn-score", "label-score", "color-hist")),
                         ("CycleGAN", ("fcn-score", "label-score", "color-hist")),
                         ("ground_truth", ("fcn-score", "color-hist"))):
        for m in metrics:
            assert any(f"scores/{row}.{m}.json" in s.outputs for s in ch.steps), (row, m)
    runs = [s.command for s in ch.steps if s.name.startswith("train+translate+score")]
    assert len(runs) == 3 and all("--protocol cyclegan" in c and "--size 128" in c for c in runs)
    assert "ablation run cyclegan-losses" in runs[2] and "--variant cyclegan" in runs[2]
    assert "ablation run photo2labels" in runs[1] and "--variant l1+cgan" in runs[1]
    table = next(s for s in ch.steps if s.name == "table")
    assert "--published cyclegan-labels2photo --published cyclegan-photo2labels" in table.command


def test_listed(capsys):
    assert main(["reproduce", "--list"]) == 0
    assert "toycity-cyclegan: pix2pix (L1+cGAN, paired) and CycleGAN" in capsys.readouterr().out
