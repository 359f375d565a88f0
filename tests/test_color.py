"""Lab conversion, Lab histograms and histogram intersection against scikit-image and by hand.

Tolerances: Lab values within 1e-3 (absolute, in L, a and b units) of ``skimage.color.rgb2lab``
(illuminant D65, observer 2; measured max ~1e-4, float32 against float64). Histograms: a pixel can
only change bins when its float32 value and scikit-image's float64 value straddle a bin edge, so at
most 1e-4 of the pixels (summed over channels) may differ from the scikit-image-derived counts.
Both kernels (the compiled one and numpy) are held to these tolerances, and to each other.
"""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path

import numpy as np
import pytest
from skimage import data as skdata
from skimage.color import rgb2lab

from p2peval.metrics.color import (CHANNELS, SRGB_GAMUT_LAB, ChannelBins, LabBins, histogram_intersection,
                                   intersection_from_counts, lab_bin_counts, lab_kernel, normalise,
                                   split_channels, srgb_to_lab)
from p2peval.metrics import color as color_module

C_BUILT = color_module._labhist is not None
KERNELS = ["numpy", "c"]  # the C kernel is built by the install (test_c_kernel_is_built says how)

NATURAL = ("astronaut", "coffee", "chelsea", "rocket")


def _natural(name: str) -> np.ndarray:
    return getattr(skdata, name)()


def _skimage_counts(rgb: np.ndarray, bins: LabBins) -> tuple[np.ndarray, np.ndarray]:
    """Independent histogram: scikit-image Lab (float64), np.histogram over clipped values."""
    lab = rgb2lab(rgb.reshape(1, -1, 3)).reshape(-1, 3)
    out, clipped = [], []
    for i, ch in enumerate(CHANNELS):
        cb = bins.channel(ch)
        v = lab[:, i]
        clipped.append(int(((v < cb.lo) | (v > cb.hi)).sum()))
        # np.histogram's last bin is closed: a value == hi belongs to it, as in p2peval.
        h, _ = np.histogram(np.clip(v, cb.lo, cb.hi), bins=cb.edges())
        out.append(h)
    return np.concatenate(out), np.array(clipped)


def test_lab_matches_skimage_random():
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (400, 500, 3), dtype=np.uint8)
    lab = srgb_to_lab(rgb)
    assert lab.shape == rgb.shape and lab.dtype == np.float32
    np.testing.assert_allclose(lab, rgb2lab(rgb), atol=1e-3, rtol=0)


@pytest.mark.parametrize("name", NATURAL)
def test_lab_matches_skimage_natural(name):
    rgb = _natural(name)
    np.testing.assert_allclose(srgb_to_lab(rgb), rgb2lab(rgb), atol=1e-3, rtol=0)


def test_lab_of_every_grey_and_cube_vertices():
    grey = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)[None]
    np.testing.assert_allclose(srgb_to_lab(grey), rgb2lab(grey), atol=1e-3, rtol=0)
    vertices = np.array([[[r, g, b] for r in (0, 255) for g in (0, 255) for b in (0, 255)]], np.uint8)
    lab = rgb2lab(vertices)[0]
    # The extremes of the sRGB gamut in Lab are at the cube's vertices (green, magenta, blue, yellow).
    for i, ch in enumerate(CHANNELS):
        assert lab[:, i].min() == pytest.approx(SRGB_GAMUT_LAB[ch][0], abs=1e-3)
        assert lab[:, i].max() == pytest.approx(SRGB_GAMUT_LAB[ch][1], abs=1e-3)


def test_gamut_constants_bound_a_large_sample():
    rng = np.random.default_rng(2)
    lab = srgb_to_lab(rng.integers(0, 256, (1 << 20, 3), dtype=np.uint8))
    for i, ch in enumerate(CHANNELS):
        assert lab[:, i].min() >= SRGB_GAMUT_LAB[ch][0] - 1e-3
        assert lab[:, i].max() <= SRGB_GAMUT_LAB[ch][1] + 1e-3


def _assert_counts_close(rgb, bins, kernel):
    counts, clipped = lab_bin_counts(rgb, bins, kernel=kernel)
    ref, ref_clipped = _skimage_counts(rgb, bins)
    n_pixels = rgb.shape[0] * rgb.shape[1]
    assert counts.sum() == 3 * n_pixels
    for ch, part in split_channels(counts, bins).items():
        assert part.sum() == n_pixels, ch
    assert np.abs(counts - ref).sum() <= max(2, 1e-4 * 3 * n_pixels)
    assert np.abs(clipped - ref_clipped).sum() <= max(2, 1e-4 * 3 * n_pixels)
    return counts, clipped


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("name", NATURAL)
def test_histograms_match_skimage_natural(name, kernel):
    _assert_counts_close(_natural(name), LabBins(), kernel)


@pytest.mark.parametrize("kernel", KERNELS)
def test_histograms_match_skimage_random_and_custom_bins(kernel):
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (300, 300, 3), dtype=np.uint8)
    _assert_counts_close(rgb, LabBins(), kernel)
    # Narrow ranges that clip: the clipped counts match scikit-image's too.
    narrow = LabBins(L=ChannelBins(10, 90, 16), a=ChannelBins(-50, 50, 10), b=ChannelBins(-20, 60, 7))
    assert not narrow.covers_srgb_gamut()
    counts, clipped = _assert_counts_close(rgb, narrow, kernel)
    assert (clipped > 0).all()


@pytest.mark.parametrize("kernel", KERNELS)
def test_edges_go_to_last_and_first_bin(kernel):
    bins = LabBins()
    white = np.full((2, 2, 3), 255, np.uint8)   # L = 100 exactly: the last L bin
    black = np.zeros((2, 2, 3), np.uint8)       # L = 0: the first L bin
    cw, clip_w = lab_bin_counts(white, bins, kernel=kernel)
    cb, clip_b = lab_bin_counts(black, bins, kernel=kernel)
    assert split_channels(cw, bins)["L"][99] == 4 and split_channels(cb, bins)["L"][0] == 4
    assert clip_w.sum() == 0 and clip_b.sum() == 0
    # b of pure yellow is 94.48: bin floor(94.48 + 128) = 222.
    yellow = np.array([[[255, 255, 0]]], np.uint8)
    cy, _ = lab_bin_counts(yellow, bins, kernel=kernel)
    assert np.argmax(split_channels(cy, bins)["b"]) == 222


def test_c_kernel_is_built():
    """The install builds the kernel; a silent fallback would cost 3x in speed."""
    compiler = bool(shutil.which("cc") or shutil.which("gcc"))
    headers = Path(sysconfig.get_paths()["include"], "Python.h").exists()
    assert C_BUILT, ("p2peval.metrics._labhist missing: reinstall (make venv / pip install -e .)"
                     f"; C compiler {'found' if compiler else 'MISSING'}, Python.h {'found' if headers else 'MISSING'}")


def test_c_and_numpy_kernels_agree_on_every_colour():
    """All 2^24 sRGB colours once: the kernels bin them alike but for float32 edge cases
    (measured: 270 of 50M channel values move to a neighbouring bin, and each kernel moves about
    300 against float64 scikit-image; limit: the skimage tolerance)."""
    codes = np.arange(1 << 24, dtype=np.uint32)
    rgb = np.stack([(codes >> 16) & 255, (codes >> 8) & 255, codes & 255], -1).astype(np.uint8)
    for bins in (LabBins(), LabBins(L=ChannelBins(10, 90, 16), a=ChannelBins(-50, 50, 10), b=ChannelBins(-20, 60, 7))):
        c, c_clip = lab_bin_counts(rgb, bins, kernel="c")
        n, n_clip = lab_bin_counts(rgb, bins, kernel="numpy")
        assert c.sum() == n.sum() == 3 << 24
        assert np.abs(c - n).sum() <= 1e-4 * (3 << 24)
        assert np.abs(c_clip - n_clip).sum() <= 1e-4 * (3 << 24)


def test_kernel_choice_and_refusals(monkeypatch):
    from p2peval.core.errors import ConfigError

    k, table = color_module._labhist, color_module._KERNEL_TABLE
    assert lab_kernel() == "c"
    monkeypatch.setenv("P2PEVAL_LAB_KERNEL", "numpy")
    assert lab_kernel() == "numpy"
    monkeypatch.setenv("P2PEVAL_LAB_KERNEL", "fortran")
    with pytest.raises(ConfigError, match="fortran"):
        lab_kernel()
    monkeypatch.delenv("P2PEVAL_LAB_KERNEL")
    monkeypatch.setattr(color_module, "_labhist", None)
    assert lab_kernel() == "numpy"
    with pytest.raises(ConfigError, match="not built"):
        lab_kernel("c")
    # The kernel itself refuses malformed buffers instead of reading past them.
    params = color_module._kernel_params(LabBins())
    counts, clipped = np.zeros(LabBins().total, np.int64), np.zeros(3, np.int64)
    with pytest.raises(ValueError, match="multiple of 3"):
        k.count(np.zeros(4, np.uint8), table, params, counts, clipped)
    with pytest.raises(ValueError, match="counts"):
        k.count(np.zeros(3, np.uint8), table, params, counts[:10], clipped)
    with pytest.raises(ValueError, match="table"):
        k.count(np.zeros(3, np.uint8), table[:1], params, counts, clipped)


@pytest.mark.parametrize("kernel", KERNELS)
def test_chunked_conversion_of_a_large_image_equals_pieces(kernel):
    rng = np.random.default_rng(4)
    rgb = rng.integers(0, 256, (700, 800, 3), dtype=np.uint8)  # 560k pixels: several chunks / blocks
    whole, _ = lab_bin_counts(rgb, kernel=kernel)
    parts = sum(lab_bin_counts(rgb[s:s + 100], kernel=kernel)[0] for s in range(0, 700, 100))
    np.testing.assert_array_equal(whole, parts)


def test_intersection_properties():
    bins = LabBins(L=ChannelBins(0, 100, 20), a=ChannelBins(-128, 128, 32), b=ChannelBins(-128, 128, 32))
    rng = np.random.default_rng(5)
    for _ in range(50):
        p = normalise(rng.integers(0, 50, bins.total) * (rng.random(bins.total) < 0.5), bins)
        q = normalise(rng.integers(0, 50, bins.total), bins)
        ipq, iqp = histogram_intersection(p, q, bins), histogram_intersection(q, p, bins)
        for ch in CHANNELS:
            assert ipq[ch] == iqp[ch]
            assert -1e-12 <= ipq[ch] <= 1 + 1e-12
            # Independent: sum(min) = 1 - total variation distance for normalised histograms.
            pp, qq = split_channels(p, bins)[ch], split_channels(q, bins)[ch]
            assert ipq[ch] == pytest.approx(1 - 0.5 * np.abs(pp - qq).sum(), abs=1e-12)
        same = histogram_intersection(p, p, bins)
        assert all(same[ch] == pytest.approx(1.0, abs=1e-12) for ch in CHANNELS)


def test_intersection_of_disjoint_and_half_overlapping_sets_by_hand():
    # Results: one image half red, half white; reference: all red. Red is L 53.24, a 80.09,
    # b 67.20 and white L 100, a -0.002, b 0.005 -> different bins in every channel, so the
    # intersection is exactly 0.5 per channel (golden, by hand).
    res = np.zeros((4, 4, 3), np.uint8)
    res[:2] = (255, 0, 0)
    res[2:] = (255, 255, 255)
    ref = np.zeros((8, 8, 3), np.uint8)
    ref[:] = (255, 0, 0)
    bins = LabBins()
    got = intersection_from_counts(lab_bin_counts(res, bins)[0], lab_bin_counts(ref, bins)[0], bins)
    assert all(got[ch] == pytest.approx(0.5, abs=1e-12) for ch in CHANNELS)
    blue = np.zeros((3, 3, 3), np.uint8)
    blue[:] = (0, 0, 255)
    got = intersection_from_counts(lab_bin_counts(blue, bins)[0], lab_bin_counts(ref, bins)[0], bins)
    assert all(got[ch] == 0.0 for ch in CHANNELS)


def test_golden_natural_pair():
    # astronaut vs coffee; the golden values were computed independently with scikit-image's
    # float64 rgb2lab and np.histogram (the helper above), and the test recomputes them.
    a, c = _natural("astronaut"), _natural("coffee")
    bins = LabBins()
    got = intersection_from_counts(lab_bin_counts(a, bins)[0], lab_bin_counts(c, bins)[0], bins)
    ind = intersection_from_counts(_skimage_counts(a, bins)[0], _skimage_counts(c, bins)[0], bins)
    golden = {"L": 0.6320, "a": 0.3832, "b": 0.4730}
    for ch in CHANNELS:
        assert got[ch] == pytest.approx(ind[ch], abs=1e-4)
        assert got[ch] == pytest.approx(golden[ch], abs=1e-4)


def test_bins_parse_and_refuse():
    from p2peval.core.errors import ConfigError

    b = LabBins.parse("50", "-100:100:200", None)
    assert b.L == ChannelBins(0, 100, 50) and b.a == ChannelBins(-100, 100, 200) and b.b == LabBins().b
    assert LabBins.from_dict(b.to_dict()) == b
    for bad in ("x", "1:2", "5:1:10", "0"):
        with pytest.raises(ConfigError):
            LabBins.parse(bad)
