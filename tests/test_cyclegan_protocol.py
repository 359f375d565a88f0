"""Protocol ``cyclegan`` (the pix2pix evaluator on 128x128 results) and the CycleGAN paper's
published rows."""

from __future__ import annotations


import pytest

from evaluate_data import make_scorer, scoring_options, write_cityscapes, write_results
from p2peval.cli import main
from p2peval.scoring.fcn_score import fcn_score
from p2peval.scoring.protocols import get_protocol
from test_confusion import reference_eval
from test_evaluate import reference_predictions


def test_settings_are_pix2pix_at_128():
    c, p = get_protocol("cyclegan").settings(), get_protocol("pix2pix").settings()
    differ = {k for k in c if c[k] != p[k]}
    assert differ == {"name", "description", "generated_size"}
    assert c["generated_size"] == (128, 128) and c["comparable_with_published"] is True
    assert c["eval_resolution"] == "label" and c["image_resize"] == "pil-bilinear-uint8"


def test_listed_by_protocols_command(capsys):
    assert main(["protocols"]) == 0
    out = capsys.readouterr().out
    assert "cyclegan  (comparable with published tables)" in out and "generated_size=128x128" in out


def test_scores_128_results_upsampled_bilinearly_to_the_labels(tmp_path):
    """128x128 results, labels 64x128: the score equals the reference evaluator's steps in numpy
    (PIL bilinear to the label size), and no size note is raised at 128."""
    ids = write_cityscapes(tmp_path / "cs", 4, label_hw=(64, 128))
    write_results(tmp_path / "res", [f"{i}_leftImg8bit.png" for i in ids], hw=(128, 128))
    make_scorer(tmp_path / "scorer.pt")
    s = fcn_score(tmp_path / "res", scorer=tmp_path / "scorer.pt", **scoring_options(
        cityscapes=tmp_path / "cs", protocol="cyclegan", n_resamples=50, show_progress=False, workers=0))
    frames = sorted(ids, key=lambda i: (i.rsplit("_", 2)[0], i))
    pairs = reference_predictions(tmp_path / "scorer.pt", [
        (tmp_path / "cs" / "gtFine" / "val" / i.rsplit("_", 2)[0] / f"{i}_gtFine_labelIds.png",
         tmp_path / "res" / f"{i}_leftImg8bit.png") for i in frames])
    (acc, cl, iu), _ = reference_eval(pairs)
    v = s["values"]
    assert (v["per_pixel_acc"], v["per_class_acc"], v["class_iou"]) == pytest.approx((acc, cl, iu), abs=1e-12)
    assert not any("published setting is" in n for n in s["notes"])
    assert s["protocol"]["name"] == "cyclegan" and s["protocol"]["generated_size"] in ([128, 128], (128, 128))


def test_published_rows_with_their_source():
    from p2peval.report.published import get_published
    l2p, p2l = get_published("cyclegan-labels2photo"), get_published("cyclegan-photo2labels")
    assert {r.label: r.values for r in l2p.rows} == {"pix2pix": (0.71, 0.25, 0.18), "CycleGAN": (0.52, 0.17, 0.11)}
    assert {r.label: r.values for r in p2l.rows} == {"pix2pix": (0.85, 0.40, 0.32), "CycleGAN": (0.58, 0.22, 0.16)}
    assert l2p.metric == "fcn-score" and p2l.metric == "label-score"
    for t in (l2p, p2l):
        assert "Zhu et al., ICCV 2017" in t.source and "128x128" in t.task
