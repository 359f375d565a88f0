"""The bilinear resize kernel gives PIL's bytes (protocol pix2pix depends on them), and the label
mapping gives the Cityscapes table's train ids."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from p2peval.core import resample
from p2peval.core.errors import ConfigError
from p2peval.core.imageio import pil_bilinear_resize
from p2peval.data.labels import IGNORE, LABELS, label_ids_to_train_ids


def pil(img: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """PIL directly (independent of p2peval.core.resample)."""
    return np.asarray(Image.fromarray(img).resize((hw[1], hw[0]), Image.BILINEAR))


def test_kernel_is_built():
    assert resample._bilinear is not None, "p2peval.core._bilinear missing: reinstall (make venv / pip install -e .)"


def test_pix2pix_geometry_is_pils_bytes():
    """256x256 -> 1024x2048, as protocol pix2pix resizes every result; smooth and noisy images."""
    rng = np.random.default_rng(0)
    noisy = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    smooth = np.asarray(Image.fromarray(noisy[::8, ::8]).resize((256, 256), Image.BICUBIC))
    for img in (noisy, smooth, np.full((256, 256, 3), 255, np.uint8)):
        got = resample.bilinear_resize(img, (1024, 2048), kernel="c")
        np.testing.assert_array_equal(got, pil(img, (1024, 2048)))
        out = np.zeros((1024, 2048, 3), np.uint8)
        assert pil_bilinear_resize(img, (1024, 2048), out=out) is out
        np.testing.assert_array_equal(out, pil(img, (1024, 2048)))


@pytest.mark.parametrize("channels", [None, 3])
def test_kernel_equals_pil_where_the_height_grows_or_stays(channels):
    rng = np.random.default_rng(1)
    for _ in range(60):
        hi, wi = (int(v) for v in rng.integers(1, 70, 2))
        ho, wo = int(rng.integers(hi, 200)), int(rng.integers(1, 200))
        if (ho, wo) == (hi, wi):
            continue
        img = rng.integers(0, 256, (hi, wi) if channels is None else (hi, wi, channels), dtype=np.uint8)
        np.testing.assert_array_equal(resample.bilinear_resize(img, (ho, wo), kernel="c"), pil(img, (ho, wo)),
                                      err_msg=f"{hi}x{wi} -> {ho}x{wo}")


def test_every_geometry_gives_pils_bytes():
    """Shrinking heights (which PIL may resample vertical first) and edge cases go to PIL; the
    result of the default path is PIL's in every case."""
    rng = np.random.default_rng(2)
    cases = [((1, 1), (5, 7)), ((5, 7), (1, 1)), ((64, 64), (63, 65)), ((100, 3), (33, 250)),
             ((40, 30), (40, 30)), ((300, 200), (17, 9))]
    cases += [((int(a), int(b)), (int(c), int(d))) for a, b, c, d in rng.integers(1, 120, (40, 4))]
    for (hi, wi), (ho, wo) in cases:
        img = rng.integers(0, 256, (hi, wi, 3), dtype=np.uint8)
        np.testing.assert_array_equal(pil_bilinear_resize(img, (ho, wo)), pil(img, (ho, wo)),
                                      err_msg=f"{hi}x{wi} -> {ho}x{wo}")


def test_kernel_can_differ_from_pil_where_the_height_shrinks():
    """Why shrinking heights are left to PIL: this PIL resamples them vertical first, which rounds
    differently from the horizontal-first kernel (the guard must see it, or PIL be unchanged)."""
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    forced = resample.bilinear_resize(img, (20, 150), kernel="c")
    if not np.array_equal(forced, pil(img, (20, 150))):
        assert not resample._agrees_with_pil(64, 64, 3, 3, 20, 150)
    np.testing.assert_array_equal(resample.bilinear_resize(img, (20, 150)), pil(img, (20, 150)))


def test_environment_selects_pil(monkeypatch):
    img = np.random.default_rng(4).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    monkeypatch.setenv("P2PEVAL_RESIZE_KERNEL", "pil")
    np.testing.assert_array_equal(pil_bilinear_resize(img, (64, 128)), pil(img, (64, 128)))
    monkeypatch.setenv("P2PEVAL_RESIZE_KERNEL", "cuda")
    with pytest.raises(ConfigError, match="resize kernel 'cuda'"):
        pil_bilinear_resize(img, (64, 128))


def test_label_mapping_follows_the_table():
    raw = np.random.default_rng(5).integers(0, 256, (37, 53), dtype=np.uint8)
    table = {lab.id: lab.train_id for lab in LABELS}
    want = np.vectorize(lambda v: table.get(int(v), IGNORE), otypes=[np.uint8])(raw)
    np.testing.assert_array_equal(label_ids_to_train_ids(raw), want)
    out = np.zeros_like(raw)
    assert label_ids_to_train_ids(raw, out=out) is out
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("mode", ["L", "P"])
def test_read_train_ids_maps_then_resizes_as_the_reference(tmp_path, mode):
    """Decoding, nearest resizing and the id table in PIL (mode L) or numpy (other modes) give the
    reference order's result: map every pixel, then resize (nearest)."""
    from p2peval.data.cityscapes import read_train_ids

    raw = np.random.default_rng(6).integers(0, 40, (48, 96), dtype=np.uint8)
    img = Image.fromarray(raw)
    if mode == "P":
        img = img.convert("P")
        img.putpalette([v for i in range(256) for v in (i, i, i)])
    path = tmp_path / "x_gtFine_labelIds.png"
    img.save(path)
    table = {lab.id: lab.train_id for lab in LABELS}
    full = np.vectorize(lambda v: table.get(int(v), IGNORE), otypes=[np.uint8])(np.asarray(Image.open(path)))
    np.testing.assert_array_equal(read_train_ids(path), full)
    small = np.asarray(Image.fromarray(full).resize((40, 24), Image.NEAREST))
    np.testing.assert_array_equal(read_train_ids(path, nearest_hw=(24, 40)), small)
    buf = np.zeros((48, 96), np.uint8)
    assert read_train_ids(path, out=lambda shape: buf) is buf
    np.testing.assert_array_equal(buf, full)
