"""The streaming color-hist evaluation, its score files and the command's handling of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage.color import rgb2lab

from p2peval.cli import main
from p2peval.scoring.color_hist import color_hist, count_images, find_images, image_key, read_frames
from p2peval.metrics.color import CHANNELS, LabBins
from p2peval.report.scorefile import read_score


def _write_set(folder: Path, n: int, seed: int, shift: float = 0.0, suffix: str = "", size=(24, 32)) -> list[np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    imgs = []
    for i in range(n):
        base = rng.integers(0, 256, (1, 1, 3))
        img = np.clip(base + rng.normal(0, 25, size + (3,)) + shift, 0, 255).astype(np.uint8)
        Image.fromarray(img).save(folder / f"img{i:03d}{suffix}.png")
        imgs.append(img)
    return imgs


def _independent_intersection(res_imgs, ref_imgs, bins: LabBins) -> dict[str, float]:
    """Pooled histograms with scikit-image Lab + np.histogram, then sum(min) of the normalised."""
    def pooled(imgs):
        lab = np.concatenate([rgb2lab(im).reshape(-1, 3) for im in imgs])
        out = {}
        for i, ch in enumerate(CHANNELS):
            cb = bins.channel(ch)
            h, _ = np.histogram(np.clip(lab[:, i], cb.lo, cb.hi), bins=cb.edges())
            out[ch] = h / h.sum()
        return out
    p, q = pooled(res_imgs), pooled(ref_imgs)
    return {ch: float(np.minimum(p[ch], q[ch]).sum()) for ch in CHANNELS}


def test_image_keys():
    assert image_key("aachen_000000_000019_leftImg8bit.png") == "aachen_000000_000019"
    assert image_key("toyA_000001_000002_leftImg8bit_fake_B.png") == "toyA_000001_000002"
    assert image_key("12_fake_B.png") == image_key("12_real_B.png") == "12"
    assert image_key("photo.jpg") == "photo"


def test_score_matches_independent_computation_and_pairs(tmp_path):
    res = _write_set(tmp_path / "res", 12, seed=0, shift=15)
    ref = _write_set(tmp_path / "ref", 12, seed=1)
    out = color_hist(tmp_path / "res", tmp_path / "ref", workers=0, n_resamples=200, show_progress=False)
    want = _independent_intersection(res, ref, LabBins())
    for ch in CHANNELS:
        assert out.score["values"][ch] == pytest.approx(want[ch], abs=2e-4)
        lo, hi = out.score["ci"][ch]
        assert 0 <= lo <= hi <= 1
    assert out.score["inputs"]["pairing"] == "paired"
    assert out.score["counts"]["images"] == 12 and out.score["counts"]["pixels"] == 12 * 24 * 32
    assert out.score["bins"] == LabBins().to_dict()
    path = out.write(tmp_path / "s.json")
    score = read_score(path)
    assert score["metric"] == "color-hist" and score["frames_file"] == "s.frames.npz"
    frames = read_frames(score, path)
    assert frames["counts"].shape == (12, LabBins().total)
    assert list(frames["ids"]) == sorted(f"img{i:03d}" for i in range(12))
    # The stored pooled histograms are the sums of the per-image counts.
    assert score["histograms"]["results"]["L"] == frames["counts"][:, :100].sum(0).tolist()


def test_identical_sets_paired_give_one_with_degenerate_ci(tmp_path):
    _write_set(tmp_path / "a", 6, seed=3)
    _write_set(tmp_path / "b", 6, seed=3)
    out = color_hist(tmp_path / "a", tmp_path / "b", workers=0, n_resamples=100, show_progress=False)
    for ch in CHANNELS:
        assert out.score["values"][ch] == pytest.approx(1.0, abs=1e-12)
        # Paired resampling draws the same images on both sides: every resample is identical.
        assert out.score["ci"][ch] == pytest.approx([1.0, 1.0], abs=1e-12)


def test_unmatched_names_compare_as_sets(tmp_path):
    _write_set(tmp_path / "a", 5, seed=3)
    ref = tmp_path / "b"
    _write_set(ref, 5, seed=3)
    (ref / "img000.png").rename(ref / "other.png")
    out = color_hist(tmp_path / "a", ref, workers=0, n_resamples=100, show_progress=False)
    assert out.score["inputs"]["pairing"] == "sets"
    assert "4 of 5" in out.score["inputs"]["pairing_detail"]
    # Same pixels, different names: the value is still 1, but the two sides are now resampled
    # independently, so every resample is less alike than the sets themselves (a bias); the
    # interval reaches down as far as the resamples do and up to 1, and holds the estimate.
    ci = out.score["ci"]
    for ch in CHANNELS:
        assert out.score["values"][ch] == pytest.approx(1.0)
        assert ci[ch][0] <= out.score["values"][ch] <= ci[ch][1] <= 1.0
        assert ci[ch + "_se"] > 0 and ci[ch + "_bias"] < 0 and ci[ch][0] < 1.0
    assert ci["interval"] == "symmetric"


def test_pix2pix_layout_uses_fake_and_real_B(tmp_path):
    d = tmp_path / "images"
    fake = _write_set(d, 4, seed=5, suffix="_fake_B")
    real = _write_set(d, 4, seed=6, suffix="_real_B")
    _write_set(d, 4, seed=7, suffix="_real_A")
    assert all(p.stem.endswith("_fake_B") for p in find_images(d, "results").paths)
    assert all(p.stem.endswith("_real_B") for p in find_images(d, "reference").paths)
    out = color_hist(d, d, workers=0, n_resamples=50, show_progress=False)
    assert out.score["inputs"]["pairing"] == "paired"
    want = _independent_intersection(fake, real, LabBins())
    assert out.score["values"]["a"] == pytest.approx(want["a"], abs=2e-4)


def test_cityscapes_root_as_reference(tmp_path):
    root = tmp_path / "toy" / "cityscapes" / "leftImg8bit" / "val" / "toyA"
    root.mkdir(parents=True)
    _write_set(tmp_path / "res", 3, seed=1)
    for i in range(3):
        Image.fromarray(np.full((8, 16, 3), 40 * i, np.uint8)).save(root / f"toyA_000000_{i:06d}_leftImg8bit.png")
    ims = find_images(tmp_path / "toy", "reference")
    assert len(ims) == 3 and ims.keys[0] == "toyA_000000_000000"


def test_independent_of_batch_size_and_workers(tmp_path):
    _write_set(tmp_path / "res", 20, seed=8, size=(40, 30))
    _write_set(tmp_path / "ref", 20, seed=9, size=(40, 30))
    ims = find_images(tmp_path / "res", "results")
    a = count_images(ims, workers=0, batch_size=1, show_progress=False)
    b = count_images(ims, workers=2, batch_size=3, show_progress=False)
    np.testing.assert_array_equal(a.counts, b.counts)
    s1 = color_hist(tmp_path / "res", tmp_path / "ref", workers=0, batch_size=1, n_resamples=100,
                    show_progress=False).score
    s2 = color_hist(tmp_path / "res", tmp_path / "ref", workers=2, batch_size=7, n_resamples=100,
                    show_progress=False).score
    assert s1["values"] == s2["values"] and s1["ci"] == s2["ci"]


def _cli(argv, capsys):
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_writes_scores_and_plot(tmp_path, capsys):
    _write_set(tmp_path / "L1", 5, seed=1, shift=-20)
    _write_set(tmp_path / "cGAN", 5, seed=1, shift=5)
    _write_set(tmp_path / "real", 5, seed=1)
    rc, out, err = _cli(["color-hist", str(tmp_path / "L1"), str(tmp_path / "cGAN"), "--reference",
                         str(tmp_path / "real"), "--out", str(tmp_path / "scores"), "--plot",
                         str(tmp_path / "c.png"), "--n-resamples", "50", "--quiet"], capsys)
    assert rc == 0, err
    s1 = read_score(tmp_path / "scores" / "L1.color-hist.json")
    s2 = read_score(tmp_path / "scores" / "cGAN.color-hist.json")
    assert s1["label"] == "L1" and s2["label"] == "cGAN"
    assert s2["values"]["L"] > s1["values"]["L"]  # the smaller shift is closer to the reference
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rc, out, err = _cli(["color-hist", str(tmp_path / "L1"), "--reference", str(tmp_path / "real"),
                         "--out", str(tmp_path / "one.json"), "--bins-L", "10", "--quiet",
                         "--n-resamples", "20"], capsys)
    assert rc == 0, err
    assert read_score(tmp_path / "one.json")["bins"]["L"] == {"lo": 0.0, "hi": 100.0, "n": 10}


@pytest.mark.parametrize("case", ["missing", "empty", "truncated", "transparent", "bins", "out",
                                  "labels", "reference"])
def test_cli_bad_input(tmp_path, capsys, case):
    res, ref = tmp_path / "res", tmp_path / "ref"
    _write_set(res, 3, seed=1)
    _write_set(ref, 3, seed=2)
    out = tmp_path / "s.json"
    out.write_text("keep me")
    argv = ["color-hist", str(res), "--reference", str(ref), "--out", str(out), "--quiet", "--workers", "0"]
    expect = None
    if case == "missing":
        argv[1] = str(tmp_path / "nope")
        expect = "nope: no such folder"
    elif case == "empty":
        (tmp_path / "empty").mkdir()
        argv[1] = str(tmp_path / "empty")
        expect = "no images found"
    elif case == "truncated":
        data = (res / "img001.png").read_bytes()
        (res / "img001.png").write_bytes(data[: len(data) // 2])
        expect = "img001.png: unreadable or truncated image"
    elif case == "transparent":
        rgba = np.zeros((4, 4, 4), np.uint8)
        Image.fromarray(rgba).save(ref / "img002.png")
        expect = "img002.png: RGBA image with transparent pixels"
    elif case == "bins":
        argv += ["--bins-a", "10:5:3"]
        expect = "bad bins"
    elif case == "out":
        argv[argv.index(str(out))] = str(tmp_path / "s.txt")
        expect = "must end in .json"
    elif case == "labels":
        argv += ["--label", "x", "--label", "y"]
        expect = "--label given 2 times"
    elif case == "reference":
        argv[3] = str(tmp_path / "noref")
        expect = "noref: no such folder"
    rc, _, err = _cli(argv, capsys)
    assert rc == 2
    lines = [l for l in err.splitlines() if l.startswith("p2peval: error:")]
    assert len(lines) == 1 and expect in lines[0], err
    assert "Traceback" not in err
    assert out.read_text() == "keep me"  # nothing already written is lost


def test_truncated_image_reported_from_worker_process(tmp_path, capsys):
    res = tmp_path / "res"
    _write_set(res, 24, seed=1)
    data = (res / "img017.png").read_bytes()
    (res / "img017.png").write_bytes(data[:60])
    rc, _, err = _cli(["color-hist", str(res), "--reference", str(res), "--workers", "2",
                       "--batch-size", "4", "--quiet"], capsys)
    assert rc == 2 and "img017.png" in err and "Traceback" not in err


def test_score_file_json_is_plain(tmp_path):
    _write_set(tmp_path / "res", 3, seed=1)
    out = color_hist(tmp_path / "res", tmp_path / "res", workers=0, n_resamples=10, show_progress=False)
    path = out.write(tmp_path / "x.json")
    json.loads(path.read_text())  # no NaN, plain JSON


def test_bootstrap_interval_matches_an_independent_loop(tmp_path):
    _write_set(tmp_path / "res", 15, seed=11, shift=10)
    _write_set(tmp_path / "ref", 15, seed=12)
    out = color_hist(tmp_path / "res", tmp_path / "ref", workers=0, n_resamples=1000, show_progress=False)
    rc, fc = out.results.counts.astype(float), out.reference.counts.astype(float)
    rng = np.random.default_rng(99)
    samples = []
    for _ in range(1000):  # paired: the same image indices on both sides
        idx = rng.integers(0, 15, 15)
        p, q = rc[idx].sum(0), fc[idx].sum(0)
        samples.append(np.minimum(p[:100] / p[:100].sum(), q[:100] / q[:100].sum()).sum())
    q_lo, q_hi = np.quantile(samples, [0.025, 0.975])
    width = q_hi - q_lo
    assert width > 0.01
    # The symmetric interval: the estimate +/- its larger distance to the two quantiles, in [0, 1].
    p, q = rc.sum(0)[:100], fc.sum(0)[:100]
    t = np.minimum(p / p.sum(), q / q.sum()).sum()
    d = max(t - q_lo, q_hi - t)
    lo, hi = max(t - d, 0), min(t + d, 1)
    assert out.score["ci"]["L"][0] == pytest.approx(lo, abs=0.15 * width)
    assert out.score["ci"]["L"][1] == pytest.approx(hi, abs=0.15 * width)
    assert out.score["ci"]["L_se"] == pytest.approx(np.std(samples, ddof=1), rel=0.15)
