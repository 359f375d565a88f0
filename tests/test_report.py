"""p2peval report: the page's table, per-frame figures and segmentations against independent
computations; the figures' data; bad input refused with one line."""

from __future__ import annotations

import base64
import html
import io
import json
import re

import numpy as np
import pytest
import torch
from PIL import Image

from p2peval.cli import main
from p2peval.report.html import FcnRow, build_report, frames_that_differ

ROWS = ("pix2pix-l1", "pix2pix-l1+cgan", "ground_truth", "blurred")


def _files(out):
    return ([out / "scores" / f"{r}.fcn-score.json" for r in ROWS]
            + [out / "scores" / f"{r}.color-hist.json" for r in ROWS])


def _images(page: str) -> dict[str, np.ndarray]:
    """alt text -> decoded image of every <img> of the page."""
    out = {}
    for src, alt in re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)"', page):
        out[html.unescape(alt)] = np.asarray(Image.open(io.BytesIO(base64.b64decode(src))).convert("RGB"))
    return out


def _frame_acc(out, row):
    """Per-frame pixel accuracy, one frame at a time through the dataset-level score function."""
    from p2peval.metrics.confusion import compute_scores
    from p2peval.report.scorefile import read_score

    s = read_score(out / "scores" / f"{row}.fcn-score.json")
    with np.load(out / "scores" / f"{row}.fcn-score.frames.npz") as z:
        ids, conf = z["ids"].astype(str), z["confusion"]
    return {i: compute_scores(conf[k:k + 1], s["confusion_mode"])["per_pixel_acc"] for k, i in enumerate(ids)}


def test_report_holds_table_distributions_and_what_the_scorer_saw(tiny_demo):
    from p2peval.data.cityscapes import list_frames
    from p2peval.data.labels import LABELS, train_ids_to_color
    from p2peval.report.scorefile import read_score
    from p2peval.report.tables import build_table, render
    from p2peval.scorers.checkpoint import load_scorer

    out, _, _, cfg = tiny_demo
    page = build_report(_files(out), n_frames=2, scorer=out / "scorer.pt", n_resamples=200, seed=0)
    assert render(build_table(_files(out), n_resamples=200, seed=0), "html") in page
    assert "http://" not in page and "https://" not in page and "src=\"data:" in page

    labels = [read_score(out / "scores" / f"{r}.fcn-score.json")["label"] for r in ROWS]
    accs = {r: _frame_acc(out, r) for r in ROWS}
    stats = re.findall(r"<tr><td>([^<]+)</td><td>(\d+)</td><td>([\d.]+)</td><td>([\d.]+)</td><td>([\d.]+)</td></tr>", page)
    assert [html.unescape(s[0]) for s in stats] == labels
    for (_, n, lo, med, hi), r in zip(stats, ROWS):
        a = np.array(list(accs[r].values()))
        assert int(n) == len(a) == cfg.n_val
        assert (float(lo), float(med), float(hi)) == pytest.approx((a.min(), np.median(a), a.max()), abs=5e-5)

    # The frames shown are those whose rows differ most, largest spread first.
    ids = sorted(accs[ROWS[0]])
    spread = {i: max(accs[r][i] for r in ROWS) - min(accs[r][i] for r in ROWS) for i in ids}
    expected = sorted(ids, key=lambda i: (-spread[i], i))[:2]
    shown = re.findall(r"<tr><td>([^<]+)<br>spread ([\d.]+)</td>", page)
    assert [s[0] for s in shown] == expected
    assert [float(s[1]) for s in shown] == pytest.approx([spread[i] for i in expected], abs=5e-4)

    # Each row's image, the scorer's segmentation of it (recomputed here with the network) and
    # the ground-truth labels.
    imgs = _images(page)
    model, _ = load_scorer(out / "scorer.pt")
    lut = np.full(256, 255, np.int64)
    for lab in LABELS:
        lut[lab.id] = lab.train_id
    frames = {f.id: f for f in list_frames(out / "toycity", "val")}
    for fid in expected:
        f = frames[fid]
        np.testing.assert_array_equal(imgs[f"{fid} ground truth"], np.asarray(Image.open(f.color).convert("RGB")))
        h, w = np.asarray(Image.open(f.label_ids)).shape
        for row, label in zip(ROWS, labels):
            src = Image.open(out / "images" / row / f"{fid}_leftImg8bit.png").convert("RGB")
            np.testing.assert_array_equal(imgs[f"{fid} {label} image"], np.asarray(src))
            x = np.array(src.resize((w, h), Image.BILINEAR), np.float32)[:, :, ::-1]
            x -= np.array((72.78044, 83.21195, 73.45286))
            with torch.no_grad():
                pred = model(torch.from_numpy(x.transpose(2, 0, 1).copy())[None]).argmax(1)[0].numpy()
            np.testing.assert_array_equal(imgs[f"{fid} {label} segmentation"],
                                          train_ids_to_color(pred.astype(np.uint8)))
    assert len(imgs) == 3 + 2 * (1 + 2 * len(ROWS))


def test_frames_that_differ_ranks_by_spread_over_shared_frames(tmp_path):
    a = FcnRow("a", tmp_path, {}, np.array(["f1", "f2", "f3", "f4"]), np.array([0.5, 0.9, 0.2, np.nan]))
    b = FcnRow("b", tmp_path, {}, np.array(["f2", "f3", "f4", "f1"]), np.array([0.8, 0.7, 0.4, 0.5]))
    c = FcnRow("c", tmp_path, {})  # no per-frame data: ignored
    assert frames_that_differ([a, b, c], 2) == [("f3", pytest.approx(0.5)), ("f2", pytest.approx(0.1))]
    assert [f for f, _ in frames_that_differ([a, b], 10)] == ["f3", "f2", "f1", "f4"]  # NaN last
    assert frames_that_differ([a], 3) == [] and frames_that_differ([a, b], 0) == []


def test_class_bars_show_every_rows_values():
    import matplotlib.pyplot as plt

    from p2peval.data.labels import CLASS_NAMES
    from p2peval.report.figures import class_bars_figure

    rng = np.random.default_rng(1)
    rows = [(name, {"names": list(CLASS_NAMES), "iou": rng.random(19).tolist(), "acc": rng.random(19).tolist()})
            for name in ("x", "y", "z")]
    fig = class_bars_figure(rows)
    for ax, key in zip(fig.axes, ("iou", "acc")):
        bars = ax.patches
        assert len(bars) == 3 * 19
        heights = np.array([b.get_height() for b in bars]).reshape(3, 19)
        np.testing.assert_allclose(heights, [r[key] for _, r in rows])
    assert [t.get_text() for t in fig.axes[1].get_xticklabels()] == list(CLASS_NAMES)
    plt.close(fig)


def test_report_cli_writes_the_page(tiny_demo, tmp_path, capsys):
    out, _, _, _ = tiny_demo
    target = tmp_path / "r" / "report.html"
    files = [str(p) for p in _files(out)]
    # no --scorer: the checkpoint named in the score files is used
    assert main(["report", *files, "--out", str(target), "--frames", "1", "--n-resamples", "100"]) == 0
    page = target.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count(" segmentation\"") == len(ROWS)
    assert str(target) in capsys.readouterr().out


def test_report_bad_input_one_line_exit_2(tiny_demo, tmp_path, capsys):
    out, _, _, _ = tiny_demo
    good = str(out / "scores" / "blurred.fcn-score.json")
    notscore = tmp_path / "x.json"
    notscore.write_text(json.dumps({"hello": 1}))
    png = tmp_path / "y.json"
    png.write_bytes((out / "color.png").read_bytes())
    target = tmp_path / "report.html"
    cases = [([good, str(tmp_path / "missing.json")], "no such score file"),
             ([good, str(notscore)], "not a p2peval score file"),
             ([str(png)], "not a JSON score file"),
             ([good, "--frames", "-1"], "--frames"),
             ([good, "--scorer", str(tmp_path / "none.pt")], "no such scorer checkpoint"),
             ([good, "--n-resamples", "0"], "--n-resamples")]
    for args, msg in cases:
        rc = main(["report", *args, "--out", str(target)])
        err = capsys.readouterr().err
        assert rc == 2, args
        assert err.count("\n") == 1 and msg in err and "Traceback" not in err, err
        assert not target.exists()


def test_report_without_the_scorer_shows_images_and_says_why(tiny_demo, tmp_path):
    """Score files whose recorded scorer is gone: the images stay, the segmentations are left out
    with one warning per row."""
    from p2peval.report.scorefile import copy_score, read_score

    out, _, _, _ = tiny_demo
    files = []
    for src in _files(out):
        dst = tmp_path / src.name
        scorer = read_score(src).get("scorer")
        copy_score(src, dst, **({"scorer": dict(scorer, path=str(tmp_path / "gone.pt"))} if scorer else {}))
        files.append(dst)
    warnings: list[str] = []
    page = build_report(files, n_frames=1, n_resamples=100, warn=warnings.append)
    imgs = _images(page)
    assert len(warnings) == len(ROWS) and all("no scorer checkpoint" in w for w in warnings)
    assert not [a for a in imgs if a.endswith(" segmentation")]
    assert len([a for a in imgs if a.endswith(" image")]) == len(ROWS)
