"""Every bad input of fcn-score / label-score / segment: one line naming the file, exit 2."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from evaluate_data import make_scorer, write_cityscapes, write_results
from p2peval.cli import main
from p2peval.report.scorefile import read_score

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    ids = write_cityscapes(root / "cs", 4)
    write_results(root / "res", [f"{i}_leftImg8bit.png" for i in ids])
    make_scorer(root / "scorer.pt")
    return {"root": root, "ids": sorted(ids, key=lambda i: (i.rsplit("_", 2)[0], i))}


@pytest.fixture
def res(base, tmp_path):
    d = tmp_path / "res"
    shutil.copytree(base["root"] / "res", d)
    return d


def fcn(base, results, *extra, scorer=None):
    return main(["fcn-score", str(results), "--cityscapes", str(base["root"] / "cs"), "--scorer",
                 str(scorer or base["root"] / "scorer.pt"), "--workers", "0", "--bootstrap", "20",
                 "--quiet", *extra])


def one_error_line(capsys, *needles: str) -> str:
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert "Traceback" not in err
    assert len(lines) == 1, err
    assert lines[0].startswith("p2peval: error: "), err
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def result_path(base, res, k=0) -> Path:
    return res / f"{base['ids'][k]}_leftImg8bit.png"


def test_missing_result(base, res, capsys):
    result_path(base, res, 2).unlink()
    assert fcn(base, res) == 2
    one_error_line(capsys, str(res), base["ids"][2], "have no result")


def test_extra_result(base, res, capsys):
    shutil.copy(result_path(base, res), res / "zurich_000999_000019_leftImg8bit.png")
    assert fcn(base, res) == 2
    one_error_line(capsys, "zurich_000999_000019_leftImg8bit.png", "match no ground-truth frame")


def test_unnamed_result(base, res, capsys):
    shutil.copy(result_path(base, res), res / "holiday.png")
    assert fcn(base, res) == 2
    one_error_line(capsys, "holiday.png")


def test_numbered_results_without_match_gives_a_hint(base, tmp_path, capsys):
    d = tmp_path / "num"
    d.mkdir()
    for n in range(1, 5):
        shutil.copy(base["root"] / "res" / f"{base['ids'][0]}_leftImg8bit.png", d / f"{n}_fake_B.png")
    assert fcn(base, d) == 2
    one_error_line(capsys, "--match sorted")


def test_match_sorted_wrong_count(base, tmp_path, capsys):
    d = tmp_path / "num"
    d.mkdir()
    for n in (1, 2, 4):
        shutil.copy(base["root"] / "res" / f"{base['ids'][0]}_leftImg8bit.png", d / f"{n}_fake_B.png")
    assert fcn(base, d, "--match", "sorted") == 2
    one_error_line(capsys, "3 results for 4", f"3 ({base['ids'][2]})")


def test_bad_match_csv(base, tmp_path, capsys):
    d = tmp_path / "num"
    d.mkdir()
    shutil.copy(base["root"] / "res" / f"{base['ids'][0]}_leftImg8bit.png", d / "1_fake_B.png")
    table = tmp_path / "ids.csv"
    table.write_text("1,aachen_000000_000001\n")
    assert fcn(base, d, "--match", str(table)) == 2
    one_error_line(capsys, "ids.csv", "n,cityscapes_id")


def test_truncated_image(base, res, capsys):
    p = result_path(base, res, 1)
    p.write_bytes(p.read_bytes()[:200])
    assert fcn(base, res) == 2
    one_error_line(capsys, p.name, "truncated")


def test_not_an_image(base, res, capsys):
    p = result_path(base, res, 3)
    p.write_text("hello")
    assert fcn(base, res) == 2
    one_error_line(capsys, p.name, "unreadable")


def test_wrong_size(base, res, capsys):
    p = result_path(base, res, 2)
    Image.open(p).resize((40, 32)).save(p)
    assert fcn(base, res) == 2
    one_error_line(capsys, p.name, "32x40", "32x32")


def test_grayscale_and_opaque_rgba_are_converted_losslessly(base, res, tmp_path, capsys):
    gray_rgb = tmp_path / "gray_rgb"
    shutil.copytree(res, gray_rgb)
    for k in range(4):
        g = Image.open(result_path(base, res, k)).convert("L")
        g.save(result_path(base, res, k))  # mode L
        Image.merge("RGB", (g, g, g)).save(result_path(base, gray_rgb, k))
    rgba = Image.open(result_path(base, gray_rgb, 0)).convert("RGBA")  # opaque
    rgba.save(result_path(base, res, 0))
    out_a, out_b = tmp_path / "a.json", tmp_path / "b.json"
    assert fcn(base, res, "--out", str(out_a)) == 0
    assert fcn(base, gray_rgb, "--out", str(out_b)) == 0
    assert read_score(out_a)["confusion_matrix"] == read_score(out_b)["confusion_matrix"]


def test_rgba_with_transparency_is_refused(base, res, capsys):
    p = result_path(base, res, 1)
    a = np.array(Image.open(p).convert("RGBA"))
    a[0, 0, 3] = 128
    Image.fromarray(a).save(p)
    assert fcn(base, res) == 2
    one_error_line(capsys, p.name, "transparent")


def _png16(path: Path, arr: np.ndarray) -> None:
    """Write a 16-bit PNG (grayscale (H, W) or RGB (H, W, 3)) without PIL."""
    h, w = arr.shape[:2]
    color_type = 2 if arr.ndim == 3 else 0
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_16bit_colour_is_refused(base, res, capsys):
    p = result_path(base, res, 0)
    _png16(p, np.array(Image.open(p)).astype(np.uint16) * 257)
    assert fcn(base, res) == 2
    one_error_line(capsys, p.name, "16-bit")


def test_16bit_gray_lossy_is_refused_exact_is_accepted(base, res, tmp_path, capsys):
    p = result_path(base, res, 0)
    g = np.array(Image.open(p).convert("L")).astype(np.uint16)
    _png16(p, g * 257 + 1)  # not an exact 8-bit value
    assert fcn(base, res) == 2
    one_error_line(capsys, p.name, "16-bit grayscale")
    _png16(p, g * 257)
    assert fcn(base, res, "--out", str(tmp_path / "s.json")) == 0


def test_jpeg_results_warn_and_continue(base, res, tmp_path, capsys):
    for k in range(4):
        p = result_path(base, res, k)
        Image.open(p).save(p.with_suffix(".jpg"), quality=90)
        p.unlink()
    out = tmp_path / "s.json"
    assert fcn(base, res, "--out", str(out)) == 0
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith("p2peval: warning: 4 results are JPEG")
    assert any("JPEG" in n for n in read_score(out)["notes"])


def test_label_colours_matching_no_class(base, res, tmp_path, capsys):
    labels = tmp_path / "labels"
    labels.mkdir()
    for k, fid in enumerate(base["ids"]):
        # A photo instead of a colour label image.
        shutil.copy(result_path(base, res, k), labels / f"{fid}.png")
    assert main(["fcn-score", str(res), "--labels", str(labels), "--scorer", str(base["root"] / "scorer.pt"),
                 "--workers", "0", "--quiet"]) == 2
    line = one_error_line(capsys, f"{base['ids'][0]}.png", "match no class colour")
    assert "%" in line


def test_label_ids_out_of_range(base, res, tmp_path, capsys):
    labels = tmp_path / "labels"
    labels.mkdir()
    for fid in base["ids"]:
        Image.fromarray(np.full((32, 64), 40, np.uint8)).save(labels / f"{fid}.png")
    assert main(["fcn-score", str(res), "--labels", str(labels), "--scorer", str(base["root"] / "scorer.pt"),
                 "--workers", "0", "--quiet"]) == 2
    one_error_line(capsys, f"{base['ids'][0]}.png", "[40]")


def test_empty_folder(base, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert fcn(base, tmp_path / "empty") == 2
    one_error_line(capsys, "empty", "no image files")


def test_missing_folder(base, tmp_path, capsys):
    assert fcn(base, tmp_path / "nope") == 2
    one_error_line(capsys, "nope", "no such folder")


def test_checkpoint_of_another_architecture(base, res, tmp_path, capsys):
    ck = torch.load(base["root"] / "scorer.pt", weights_only=True)
    other = make_scorer(tmp_path / "small.pt", arch="fcn8s-small")
    ck2 = torch.load(other, weights_only=True)
    ck2["arch"], ck2["config"] = ck["arch"], ck["config"]  # claims fcn8s-tiny, holds fcn8s-small weights
    torch.save(ck2, tmp_path / "liar.pt")
    assert fcn(base, res, scorer=tmp_path / "liar.pt") == 2
    one_error_line(capsys, "liar.pt", "fcn8s-tiny expects")
    ck3 = dict(ck, arch="segformer-b9")
    torch.save(ck3, tmp_path / "unknown.pt")
    assert fcn(base, res, scorer=tmp_path / "unknown.pt") == 2
    one_error_line(capsys, "unknown.pt", "segformer-b9")


def test_checkpoint_of_another_class_set(base, res, tmp_path, capsys):
    ck = torch.load(base["root"] / "scorer.pt", weights_only=True)
    ck["classes"] = [f"ade{i}" for i in range(19)]
    torch.save(ck, tmp_path / "ade.pt")
    assert fcn(base, res, scorer=tmp_path / "ade.pt") == 2
    one_error_line(capsys, "ade.pt", "class set")
    (tmp_path / "junk.pt").write_bytes(os.urandom(100))
    assert fcn(base, res, scorer=tmp_path / "junk.pt") == 2
    one_error_line(capsys, "junk.pt", "checkpoint")


def test_ground_truth_options(base, res, capsys):
    assert main(["fcn-score", str(res), "--scorer", str(base["root"] / "scorer.pt"), "--quiet"]) == 2
    one_error_line(capsys, "--cityscapes ROOT or --labels DIR")
    assert fcn(base, res, "--split", "test") == 2
    one_error_line(capsys, "no split 'test'")


def test_unknown_device(base, res, capsys):
    assert fcn(base, res, "--device", "tpu") == 2
    one_error_line(capsys, "unknown device 'tpu'")


def test_unknown_protocol_through_a_real_process(base, res):
    """A separate process: exit status 2, one line, no traceback."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-m", "p2peval", "fcn-score", str(res), "--cityscapes",
                        str(base["root"] / "cs"), "--scorer", str(base["root"] / "scorer.pt"),
                        "--protocol", "pix2pix-fast"], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 2
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in p.stderr
    assert "unknown protocol 'pix2pix-fast'" in lines[0] and "fast, pix2pix, pix2pix-strict" in lines[0]


def test_label_score_bad_prediction(base, tmp_path, capsys):
    pred = tmp_path / "pred"
    pred.mkdir()
    for fid in base["ids"]:
        Image.fromarray(np.full((16, 32), 77, np.uint8)).save(pred / f"{fid}_leftImg8bit.png")
    assert main(["label-score", str(pred), "--cityscapes", str(base["root"] / "cs"), "--workers", "0",
                 "--quiet"]) == 2
    one_error_line(capsys, f"{base['ids'][0]}_leftImg8bit.png", "predicted label")


def test_segment_empty_folder(base, tmp_path, capsys):
    (tmp_path / "e").mkdir()
    assert main(["segment", str(tmp_path / "e"), "--scorer", str(base["root"] / "scorer.pt"),
                 "--out", str(tmp_path / "o"), "--quiet"]) == 2
    one_error_line(capsys, "no image files")


def test_existing_score_file_survives_a_failed_run(base, res, tmp_path, capsys):
    out = tmp_path / "s.json"
    assert fcn(base, res, "--out", str(out)) == 0
    before = out.read_bytes()
    result_path(base, res, 0).write_bytes(b"\x89PNG\r\n\x1a\n")
    assert fcn(base, res, "--out", str(out), "--no-resume") == 2
    assert out.read_bytes() == before
