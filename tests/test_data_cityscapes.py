"""``p2peval data cityscapes`` on a toy-city tree in the native Cityscapes layout."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from p2peval.cli import main
from p2peval.data.toycity import generate_toycity

SIZE, NATIVE = 32, 64  # pairs 32x32 per half; native frames 64x128


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    out = tmp_path_factory.mktemp("toy") / "toy"
    generate_toycity(out, n_train=3, n_val=5, size=SIZE, native_height=NATIVE, progress=False, workers=1)
    return out


def prepare(capsys, root, out, *extra) -> tuple[int, str, str]:
    rc = main(["data", "cityscapes", str(root), "--out", str(out), "--size", str(SIZE), "--workers", "1", *extra])
    o, e = capsys.readouterr()
    return rc, o, e


def sorted_frames(root, split):
    """(id, photo path, colour path) in the reference order, found independently with glob."""
    photos = sorted((root / "cityscapes" / "leftImg8bit" / split).glob("*/*_leftImg8bit.png"))
    out = []
    for p in photos:
        fid = p.name[: -len("_leftImg8bit.png")]
        city = p.parent.name
        out.append((fid, p, root / "cityscapes" / "gtFine" / split / city / f"{fid}_gtFine_color.png"))
    return out


def rgb(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_pairs_ids_and_ground_truth(capsys, toy, tmp_path):
    out = tmp_path / "prep"
    rc, stdout, stderr = prepare(capsys, toy, out)
    assert rc == 0 and "val 5" in stdout and "data cityscapes" in stderr  # progress lines
    for split, n in (("train", 3), ("val", 5)):
        frames = sorted_frames(toy, split)
        assert len(frames) == n
        assert sorted((out / split).iterdir()) == sorted(out / split / f"{k}.png" for k in range(1, n + 1))
        rows = (out / f"{split}_ids.csv").read_text().splitlines()
        assert rows == ["n,cityscapes_id"] + [f"{k},{fid}" for k, (fid, _, _) in enumerate(frames, 1)]
        for k, (fid, photo, color) in enumerate(frames, 1):
            pair = rgb(out / split / f"{k}.png")
            assert pair.shape == (SIZE, 2 * SIZE, 3)
            want_a = np.asarray(Image.open(photo).convert("RGB").resize((SIZE, SIZE), Image.BICUBIC))
            c = rgb(color)  # nearest at pixel centres, computed by hand
            idx_r = (np.arange(SIZE) * NATIVE // SIZE + NATIVE // SIZE // 2)
            idx_c = (np.arange(SIZE) * 2 * NATIVE // SIZE + 2 * NATIVE // SIZE // 2)
            np.testing.assert_array_equal(pair[:, :SIZE], want_a)
            np.testing.assert_array_equal(pair[:, SIZE:], c[idx_r[:, None], idx_c[None, :]])
            if split == "val":
                gt = out / f"ground_truth_{SIZE}" / f"{fid}_leftImg8bit.png"
                np.testing.assert_array_equal(rgb(gt), want_a)
    manifest = json.loads((out / f"ground_truth_{SIZE}" / "manifest.json").read_text())
    assert manifest["filter"] == "PIL bicubic" and manifest["n_images"] == 5 and manifest["size"] == [SIZE, SIZE]
    assert len(list((out / f"ground_truth_{SIZE}").glob("*.png"))) == 5
    # The toy-city generator's own pairs (another implementation, same filters) agree.
    for k in range(1, 6):
        np.testing.assert_array_equal(rgb(out / "val" / f"{k}.png"), rgb(toy / "pix2pix" / "val" / f"{k}.png"))
    # The id table is what fcn-score --match reads.
    from p2peval.data.pairing import read_match_csv
    assert read_match_csv(out / "val_ids.csv")["1"] == sorted_frames(toy, "val")[0][0]


def test_resume_and_settings(capsys, toy, tmp_path):
    out = tmp_path / "prep"
    assert prepare(capsys, toy, out)[0] == 0
    before = (out / "val" / "3.png").read_bytes()
    (out / "val" / "3.png").unlink()
    rc, stdout, _ = prepare(capsys, toy, out)
    assert rc == 0 and "1 written, 7 kept" in stdout
    assert (out / "val" / "3.png").read_bytes() == before
    rc, _, err = prepare(capsys, toy, out, "--photo-filter", "bilinear")
    assert rc == 2 and "other settings" in err and str(out) in err
    assert (out / "val" / "3.png").read_bytes() == before


def test_colour_from_label_ids_when_colour_file_missing(capsys, toy, tmp_path):
    root = tmp_path / "toy"
    shutil.copytree(toy, root)
    reference = tmp_path / "ref"
    assert prepare(capsys, root, reference)[0] == 0
    for p in (root / "cityscapes" / "gtFine" / "val").glob("*/*_gtFine_color.png"):
        p.unlink()
    out = tmp_path / "prep"
    assert prepare(capsys, root, out)[0] == 0
    summary = json.loads((out / "cityscapes_prepare.json").read_text())
    assert summary["colour_labels_from_label_ids"] == 5
    for k in range(1, 6):
        assert (out / "val" / f"{k}.png").read_bytes() == (reference / "val" / f"{k}.png").read_bytes()


def one_error(rc, err, *needles):
    lines = [l for l in err.splitlines() if l.startswith("p2peval: error:")]
    assert rc == 2 and len(lines) == 1 and "Traceback" not in err, err
    for n in needles:
        assert n in lines[0], lines[0]


def test_bad_input(capsys, toy, tmp_path):
    rc, _, err = prepare(capsys, tmp_path / "nowhere", tmp_path / "o")
    one_error(rc, err, "nowhere", "no such")
    (tmp_path / "empty").mkdir()
    rc, _, err = prepare(capsys, tmp_path / "empty", tmp_path / "o")
    one_error(rc, err, "not a Cityscapes root")
    root = tmp_path / "toy"
    shutil.copytree(toy, root)
    missing = sorted_frames(root, "val")[2][1]
    missing.unlink()
    rc, _, err = prepare(capsys, root, tmp_path / "o")
    one_error(rc, err, str(missing), "missing")
    assert not (tmp_path / "o").exists()  # checked before anything is written
    rc, _, err = prepare(capsys, toy, tmp_path / "o2", "--size", "8")
    one_error(rc, err, "size")
    rc, _, err = prepare(capsys, toy, tmp_path / "o3", "--splits", "test")
    one_error(rc, err, "splits")
    taken = tmp_path / "taken"
    (taken / "val").mkdir(parents=True)
    rc, _, err = prepare(capsys, toy, taken)
    one_error(rc, err, "choose an empty folder")


def test_worker_processes_write_the_same_files(capsys, toy, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    assert prepare(capsys, toy, one)[0] == 0
    assert main(["data", "cityscapes", str(toy), "--out", str(two), "--size", str(SIZE), "--workers", "2"]) == 0
    capsys.readouterr()
    files = sorted(p.relative_to(one) for p in one.rglob("*.png"))
    assert files == sorted(p.relative_to(two) for p in two.rglob("*.png")) and len(files) == 3 + 5 + 5
    for f in files:
        assert (one / f).read_bytes() == (two / f).read_bytes()
