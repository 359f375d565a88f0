"""Toy-city generator: layout, determinism, label validity, pix2pix consistency, realism checks."""

from __future__ import annotations

import csv
import hashlib
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from p2peval.data import labels
from p2peval.data.toycity import generate_toycity, render_frame

N_TRAIN, N_VAL, SIZE, HEIGHT, SEED = 20, 5, 32, 64, 3

# Official Cityscapes raw id -> train id (cityscapesscripts helpers/labels.py), written out here
# independently of p2peval.data.labels.
OFFICIAL_TRAIN = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11,
                  25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}
OFFICIAL_IDS = set(range(34))
NAME = re.compile(r"^([a-z]+)_(\d{6})_(\d{6})_(leftImg8bit|gtFine_labelIds|gtFine_color)\.png$")


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "toycity.json"}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("toy") / "a"
    generate_toycity(out, N_TRAIN, N_VAL, size=SIZE, seed=SEED, native_height=HEIGHT, progress=False, workers=1)
    return out


def _frames(root: Path, split: str) -> list[str]:
    return sorted(p.name[: -len("_leftImg8bit.png")]
                  for p in (root / "cityscapes" / "leftImg8bit" / split).glob("*/*_leftImg8bit.png"))


def test_layout_and_file_names(data):
    for split, n in (("train", N_TRAIN), ("val", N_VAL)):
        ids = _frames(data, split)
        assert len(ids) == n
        for kind in ("leftImg8bit", "gtFine"):
            for p in (data / "cityscapes" / kind / split).rglob("*.png"):
                m = NAME.match(p.name)
                assert m, p.name
                assert p.parent.name == m.group(1)  # <split>/<city>/<city>_...
        for fid in ids:
            city = fid.split("_")[0]
            photo = Image.open(data / "cityscapes/leftImg8bit" / split / city / f"{fid}_leftImg8bit.png")
            lab = Image.open(data / "cityscapes/gtFine" / split / city / f"{fid}_gtFine_labelIds.png")
            col = Image.open(data / "cityscapes/gtFine" / split / city / f"{fid}_gtFine_color.png")
            assert (photo.mode, photo.size) == ("RGB", (2 * HEIGHT, HEIGHT))
            assert (lab.mode, lab.size) == ("L", (2 * HEIGHT, HEIGHT))
            assert (col.mode, col.size) == ("RGB", (2 * HEIGHT, HEIGHT))
        pairs = sorted((data / "pix2pix" / split).glob("*.png"), key=lambda p: int(p.stem))
        assert [p.stem for p in pairs] == [str(i) for i in range(1, n + 1)]
        assert all(Image.open(p).size == (2 * SIZE, SIZE) for p in pairs)
        with open(data / "pix2pix" / f"{split}_ids.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        assert [r["n"] for r in rows] == [str(i) for i in range(1, n + 1)]
        assert [r["cityscapes_id"] for r in rows] == ids  # numbered in sorted id order
    train_cities = {i.split("_")[0] for i in _frames(data, "train")}
    assert len(train_cities) >= 2


def test_deterministic_across_workers_and_seeds(data, tmp_path):
    generate_toycity(tmp_path / "b", N_TRAIN, N_VAL, size=SIZE, seed=SEED, native_height=HEIGHT,
                     progress=False, workers=2)
    assert _tree(tmp_path / "b") == _tree(data)
    other = render_frame(SEED + 1, "train", 0, HEIGHT).photo
    assert not np.array_equal(other, render_frame(SEED, "train", 0, HEIGHT).photo)


def test_resume_rewrites_only_missing_files(data, tmp_path):
    import shutil

    out = tmp_path / "r"
    shutil.copytree(data, out)
    before = _tree(out)
    victim = sorted((out / "cityscapes/gtFine/val").rglob("*_gtFine_color.png"))[1]
    pair = out / "pix2pix/train/3.png"
    victim.unlink()
    pair.unlink()
    kept = sorted((out / "cityscapes/leftImg8bit/train").rglob("*.png"))[0]
    mtime = kept.stat().st_mtime_ns
    generate_toycity(out, N_TRAIN, N_VAL, size=SIZE, seed=SEED, native_height=HEIGHT, progress=False, workers=1)
    assert _tree(out) == before
    assert kept.stat().st_mtime_ns == mtime  # complete frames were skipped, not rewritten


def test_label_ids_valid_and_colours_consistent(data):
    lut = {lab.id: lab.color for lab in labels.LABELS}
    seen = set()
    for p in (data / "cityscapes/gtFine").rglob("*_gtFine_labelIds.png"):
        ids = np.asarray(Image.open(p))
        u = set(np.unique(ids).tolist())
        assert u <= OFFICIAL_IDS, (p, u - OFFICIAL_IDS)
        seen |= u
        col = np.asarray(Image.open(str(p).replace("_labelIds", "_color")).convert("RGB"))
        expect = np.zeros(col.shape, np.uint8)
        for i in u:
            expect[ids == i] = lut[i]
        np.testing.assert_array_equal(col, expect)
        train = labels.label_ids_to_train_ids(ids)
        ref = np.full(ids.shape, 255, np.uint8)
        for i, t in OFFICIAL_TRAIN.items():
            ref[ids == i] = t
        np.testing.assert_array_equal(train, ref)
    # ignored classes are exercised: unlabeled corners, the ego vehicle, and some static/ground/parking
    assert {0, 1} <= seen and seen & {4, 6, 9}


def test_pix2pix_pairs_match_native_files(data):
    for split in ("train", "val"):
        with open(data / "pix2pix" / f"{split}_ids.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        for r in rows:
            fid = r["cityscapes_id"]
            city = fid.split("_")[0]
            pair = np.asarray(Image.open(data / "pix2pix" / split / f"{r['n']}.png").convert("RGB"))
            photo = Image.open(data / "cityscapes/leftImg8bit" / split / city / f"{fid}_leftImg8bit.png")
            ids = Image.open(data / "cityscapes/gtFine" / split / city / f"{fid}_gtFine_labelIds.png")
            np.testing.assert_array_equal(pair[:, :SIZE], np.asarray(photo.resize((SIZE, SIZE), Image.BICUBIC)))
            near = np.asarray(ids.resize((SIZE, SIZE), Image.NEAREST))
            decoded, dist = labels.color_to_train_ids(pair[:, SIZE:])
            assert dist.max() == 0
            np.testing.assert_array_equal(decoded, labels.label_ids_to_train_ids(near))


def test_all_train_classes_present_and_frequencies_recorded(data):
    import json

    counts = np.zeros(256, np.int64)
    for p in (data / "cityscapes/gtFine/train").rglob("*_gtFine_labelIds.png"):
        counts += np.bincount(np.asarray(Image.open(p)).ravel(), minlength=256)
    per_class = {t: counts[i] for i, t in OFFICIAL_TRAIN.items()}
    assert all(v > 0 for v in per_class.values()), [labels.CLASS_NAMES[t] for t, v in per_class.items() if v == 0]
    for p in (data / "cityscapes/gtFine/val").rglob("*_gtFine_labelIds.png"):
        counts += np.bincount(np.asarray(Image.open(p)).ravel(), minlength=256)
    meta = json.loads((data / "toycity.json").read_text())
    assert (meta["n_train"], meta["n_val"], meta["size"], meta["native_height"], meta["seed"]) == \
        (N_TRAIN, N_VAL, SIZE, HEIGHT, SEED)
    total = counts.sum()
    for i, t in OFFICIAL_TRAIN.items():
        assert meta["class_pixel_frequency"][labels.CLASS_NAMES[t]] == pytest.approx(counts[i] / total)
    assert meta["ignored_pixel_fraction"] + sum(meta["class_pixel_frequency"].values()) == pytest.approx(1.0)


def test_street_geometry():
    """Sky above buildings above road; road fills the lower middle; objects stand on the ground."""
    for i in range(8):
        ids = render_frame(0, "val", i, 96).label_ids
        rows = np.arange(ids.shape[0])[:, None] * np.ones(ids.shape)
        sky, building, road = rows[ids == 23].mean(), rows[ids == 11].mean(), rows[ids == 7].mean()
        assert sky < building < road
        assert (ids[ids.shape[0] // 2 + 1:] == 23).sum() == 0  # no sky below the image middle
        assert (ids[-int(0.2 * ids.shape[0]) - 1, 60:132] == 7).mean() > 0.5


def _instance_means(label_id: int, n: int, height: int = 96, min_px: int = 40):
    means = []
    for i in range(n):
        r = render_frame(1, "train", i, height)
        for k in np.unique(r.instances[r.label_ids == label_id]):
            m = (r.instances == k) & (r.label_ids == label_id)
            if m.sum() >= min_px:
                means.append(r.photo[m].astype(np.float64).mean(0))
    return np.array(means)


def test_appearance_is_multimodal_per_instance():
    """Car bodies are red, blue, white, black or silver: instance colours form separated clusters;
    facades are brick, plaster or glass; skies clear or overcast."""
    from scipy.cluster.vq import kmeans2

    cars = _instance_means(26, 16)
    assert len(cars) >= 15
    lum = cars.mean(1)
    assert lum.max() - lum.min() > 90  # dark and light cars
    assert (cars[:, 0] - cars[:, 2] > 40).any() and (cars[:, 2] - cars[:, 0] > 25).any()  # red and blue cars
    centres, _ = kmeans2(cars, 4, seed=0, minit="++")
    d = np.sqrt(((centres[:, None] - centres[None]) ** 2).sum(-1))
    assert np.median(d[np.triu_indices(4, 1)]) > 50
    facades = _instance_means(11, 12, min_px=200)  # brick (red-brown), plaster (light), glass (dark blue-grey)
    assert (facades[:, 0] - facades[:, 2] > 40).any()
    assert (facades.mean(1) > 150).any() and (facades[:, 2] - facades[:, 0] > 5).any()
    sky = []
    for i in range(16):
        r = render_frame(1, "val", i, 64)
        px = r.photo[r.label_ids == 23].astype(np.float64)
        if len(px):
            sky.append(px[:, 2].mean() - px[:, 0].mean())
    sky = np.array(sky)
    assert (sky > 40).any() and (sky < 20).any()  # clear blue and overcast grey skies


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "p2peval", "data", "toycity", *args],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("extra", [["--n", "0"], ["--n", "2", "--size", "8"], ["--n", "2", "--workers", "0"],
                                   ["--n", "2", "--val", "0"], ["--n", "2", "--native-height", "4"]])
def test_cli_bad_options(tmp_path, capsys, extra):
    from p2peval.cli import main

    rc = main(["data", "toycity", str(tmp_path / "o"), *extra])
    err = capsys.readouterr().err
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("p2peval: error:")
    assert not (tmp_path / "o" / "cityscapes").exists()


def test_cli_out_is_file_and_settings_mismatch(tmp_path, capsys):
    from p2peval.cli import main

    f = tmp_path / "afile"
    f.write_text("keep me")
    r = _cli(str(f), "--n", "2", "--size", "32")  # through a real process: exit status and stderr
    assert r.returncode == 2 and str(f) in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "Traceback" not in r.stderr and f.read_text() == "keep me"
    assert main(["data", "toycity", str(f / "sub"), "--n", "2", "--size", "32"]) == 2  # parent is a file
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert main(["data", "toycity", str(tmp_path / "d"), "--n", "2", "--size", "32", "--seed", "1",
                 "--workers", "1"]) == 0
    labs = list((tmp_path / "d/cityscapes/gtFine/val").rglob("*_labelIds.png"))
    assert len(labs) == 1 and Image.open(labs[0]).size == (64, 32)  # --val defaults to 1; H defaults to S
    before = _tree(tmp_path / "d")
    capsys.readouterr()
    assert main(["data", "toycity", str(tmp_path / "d"), "--n", "2", "--size", "32", "--seed", "2"]) == 2
    err = capsys.readouterr().err
    assert "seed" in err and len(err.strip().splitlines()) == 1
    assert _tree(tmp_path / "d") == before
