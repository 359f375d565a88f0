"""The demo at a tiny size: files, table, the FCN-score of a row recomputed independently, resume."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from p2peval.demo import (ROW_NAMES, DemoConfig, degrade_blur, degrade_color_shift, ordering_ok,
                          run_demo)

TINY = DemoConfig(n_train=4, n_val=3, size=32, native_height=32, arch="fcn8s-tiny", steps=4,
                  batch_size=2, n_resamples=200)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "results"
    buf = io.StringIO()
    result = run_demo(out, config=TINY, show_progress=False, file=buf)
    return out, result, buf.getvalue()


def test_demo_writes_rows_scores_and_table(demo):
    from p2peval.report.scorefile import read_score

    out, result, text = demo
    for row in ROW_NAMES:
        s = read_score(out / f"{row}.json")
        assert s["metric"] == "fcn-score" and s["protocol"]["name"] == "pix2pix"
        assert s["counts"]["frames"] == 3
        for m in ("per_pixel_acc", "per_class_acc", "class_iou"):
            lo, hi = s["ci"][m]
            assert lo <= s["values"][m] <= hi
        assert s["scorer"]["weights_sha256"] == result["scores"][row]["scorer"]["weights_sha256"]
        files = sorted((out / "images" / row).glob("*_leftImg8bit.png"))
        assert len(files) == 3
        assert Image.open(files[0]).size == (256, 256)  # the protocol's generated size
    assert (out / "scorer.pt").exists() and (out / "demo.json").exists()
    # One table, one line per row, each value with its interval.
    assert "ground truth" in text and "colour labels as photos" in text
    row_lines = [l for l in text.splitlines() if l.count("[") == 3]
    assert len(row_lines) == 4
    assert (out / "table.txt").read_text().strip() == result["table"].strip()
    # Colour histograms of every row against the real photos, the comparison table, the plot.
    for row in ROW_NAMES:
        c = read_score(out / f"{row}.color-hist.json")
        assert c["metric"] == "color-hist" and c["inputs"]["n_files"] == 3
    assert read_score(out / "ground_truth.color-hist.json")["values"]["L"] == pytest.approx(1.0)
    md = (out / "table.md").read_text()
    assert "Per-pixel acc." in md and "Lab L" in md
    assert sum(line.startswith("| ") for line in md.splitlines()) == 5  # header + 4 rows
    assert md in text
    assert Image.open(out / "color.png").size[0] > 100


def test_demo_row_images(demo):
    """Rows are made from the real val photos: downsampled (PIL bicubic), blurred, channel-rotated;
    the colour-label row is the gtFine colour image resized with nearest neighbour."""
    from p2peval.data.cityscapes import list_frames

    out, _, _ = demo
    f = list_frames(out / "toycity", "val")[0]
    photo = Image.open(f.image).convert("RGB").resize((256, 256), Image.BICUBIC)
    gt = np.asarray(Image.open(out / "images" / "ground_truth" / f"{f.id}_leftImg8bit.png"))
    np.testing.assert_array_equal(gt, np.asarray(photo))
    shifted = np.asarray(Image.open(out / "images" / "color_shifted" / f"{f.id}_leftImg8bit.png"))
    np.testing.assert_array_equal(shifted[..., 0], gt[..., 1])
    np.testing.assert_array_equal(shifted[..., 2], gt[..., 0])
    color = Image.open(f.color).convert("RGB").resize((256, 256), Image.NEAREST)
    labels_row = np.asarray(Image.open(out / "images" / "color_labels" / f"{f.id}_leftImg8bit.png"))
    np.testing.assert_array_equal(labels_row, np.asarray(color))


def test_blur_matches_skimage():
    from skimage.filters import gaussian

    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    ours = degrade_blur(img, 3.0)
    ref = gaussian(img.astype(np.float64), sigma=3.0, mode="reflect", truncate=4.0,
                   channel_axis=-1, preserve_range=True)
    assert np.abs(ours.astype(np.float64) - ref).max() <= 0.51
    assert ours.std() < img.std() / 3  # actually blurred
    assert degrade_color_shift(img)[0, 0].tolist() == [img[0, 0, 1], img[0, 0, 2], img[0, 0, 0]]


def test_demo_score_matches_independent_computation(demo):
    """Recompute one row's per-pixel and per-class accuracy with numpy and the saved scorer."""
    from p2peval.data.cityscapes import list_frames
    from p2peval.scorers.checkpoint import load_scorer
    from p2peval.report.scorefile import read_score

    out, _, _ = demo
    model, _ = load_scorer(out / "scorer.pt")
    lut = np.full(256, 255, np.int64)
    from p2peval.data.labels import LABELS
    for lab in LABELS:
        lut[lab.id] = lab.train_id
    hist = np.zeros((19, 19), np.int64)
    dropped = 0
    for f in list_frames(out / "toycity", "val"):
        gt = lut[np.asarray(Image.open(f.label_ids))]
        h, w = gt.shape
        img = Image.open(out / "images" / "blurred" / f"{f.id}_leftImg8bit.png").convert("RGB")
        x = np.array(img.resize((w, h), Image.BILINEAR), np.float32)[:, :, ::-1]
        x -= np.array((72.78044, 83.21195, 73.45286))
        with torch.no_grad():
            pred = model(torch.from_numpy(x.transpose(2, 0, 1).copy())[None]).argmax(1)[0].numpy()
        k = gt < 19
        counts = np.bincount(19 * gt[k] + pred[k], minlength=361)  # the reference's bincount
        if counts.size > 361:
            dropped += 1
            continue
        hist += counts.reshape(19, 19)
    s = read_score(out / "blurred.json")
    assert s["counts"]["frames_dropped_by_reference_quirk"] == dropped
    assert s["values"]["per_pixel_acc"] == pytest.approx(np.diag(hist).sum() / (hist.sum() + 1e-12), abs=1e-9)
    per_class = np.mean(np.diag(hist) / (hist.sum(1) + 1e-12))
    assert s["values"]["per_class_acc"] == pytest.approx(per_class, abs=1e-9)


def test_demo_rerun_reuses_everything(demo):
    out, result, _ = demo
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.json") if p.name != "demo.json"}
    ckpt = (out / "scorer.pt").stat().st_mtime_ns
    buf = io.StringIO()
    again = run_demo(out, config=TINY, show_progress=False, file=buf)
    after = {p.name: p.stat().st_mtime_ns for p in out.glob("*.json") if p.name != "demo.json"}
    assert after == before and (out / "scorer.pt").stat().st_mtime_ns == ckpt
    assert again["table"] == result["table"]


def test_ordering_check():
    def score(v):
        return {"values": {"per_pixel_acc": v, "per_class_acc": v, "class_iou": v}}
    assert ordering_ok({"ground_truth": score(0.8), "blurred": score(0.5)})
    assert not ordering_ok({"ground_truth": score(0.5), "blurred": score(0.5)})
    assert not ordering_ok({"ground_truth": score(0.5), "blurred": score(0.3), "color_labels": score(0.6)})


def test_demo_cli_refuses_other_settings_in_same_folder(demo, capsys):
    from p2peval.cli import main

    out, _, _ = demo
    rc = main(["demo", "--out", str(out), "--n-train", "5", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "other settings" in err and "Traceback" not in err
