"""Lab conversion, Lab histograms and histogram intersection against scikit-image and by hand.

Tolerances: Lab values within 1e-3 (absolute, in L, a and b units) of ``skimage.color.rgb2lab``
(illuminant D65, observer 2; measured max ~1e-4, float32 against float64). Histograms: a pixel can
only change bins when its float32 value and scikit-image's float64 value straddle a bin edge, so at
most 1e-4 of the pixels (summed over channels) may differ from the scikit-image-derived counts.
"""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data as skdata
from skimage.color import rgb2lab

from p2peval.metrics.color import (CHANNELS, SRGB_GAMUT_LAB, ChannelBins, LabBins, histogram_intersection,
                                   intersection_from_counts, lab_bin_counts, normalise, split_channels,
                                   srgb_to_lab)

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


def _assert_counts_close(rgb, bins):
    counts, clipped = lab_bin_counts(rgb, bins)
    ref, ref_clipped = _skimage_counts(rgb, bins)
    n_pixels = rgb.shape[0] * rgb.shape[1]
    assert counts.sum() == 3 * n_pixels
    for ch, part in split_channels(counts, bins).items():
        assert part.sum() == n_pixels, ch
    assert np.abs(counts - ref).sum() <= max(2, 1e-4 * 3 * n_pixels)
    assert np.abs(clipped - ref_clipped).sum() <= max(2, 1e-4 * 3 * n_pixels)
    return counts, clipped


@pytest.mark.parametrize("name", NATURAL)
def test_histograms_match_skimage_natural(name):
    _assert_counts_close(_natural(name), LabBins())


def test_histograms_match_skimage_random_and_custom_bins():
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (300, 300, 3), dtype=np.uint8)
    _assert_counts_close(rgb, LabBins())
    # Narrow ranges that clip: the clipped counts match scikit-image's too.
    narrow = LabBins(L=ChannelBins(10, 90, 16), a=ChannelBins(-50, 50, 10), b=ChannelBins(-20, 60, 7))
    assert not narrow.covers_srgb_gamut()
    counts, clipped = _assert_counts_close(rgb, narrow)
    assert (clipped > 0).all()


def test_edges_go_to_last_and_first_bin():
    bins = LabBins()
    white = np.full((2, 2, 3), 255, np.uint8)   # L = 100 exactly: the last L bin
    black = np.zeros((2, 2, 3), np.uint8)       # L = 0: the first L bin
    cw, clip_w = lab_bin_counts(white, bins)
    cb, clip_b = lab_bin_counts(black, bins)
    assert split_channels(cw, bins)["L"][99] == 4 and split_channels(cb, bins)["L"][0] == 4
    assert clip_w.sum() == 0 and clip_b.sum() == 0
    # b of pure yellow is 94.48: bin floor(94.48 + 128) = 222.
    yellow = np.array([[[255, 255, 0]]], np.uint8)
    cy, _ = lab_bin_counts(yellow, bins)
    assert np.argmax(split_channels(cy, bins)["b"]) == 222


def test_chunked_conversion_of_a_large_image_equals_pieces():
    rng = np.random.default_rng(4)
    rgb = rng.integers(0, 256, (700, 800, 3), dtype=np.uint8)  # 560k pixels: several chunks
    whole, _ = lab_bin_counts(rgb)
    parts = sum(lab_bin_counts(rgb[s:s + 100])[0] for s in range(0, 700, 100))
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
    from p2peval.errors import ConfigError

    b = LabBins.parse("50", "-100:100:200", None)
    assert b.L == ChannelBins(0, 100, 50) and b.a == ChannelBins(-100, 100, 200) and b.b == LabBins().b
    assert LabBins.from_dict(b.to_dict()) == b
    for bad in ("x", "1:2", "5:1:10", "0"):
        with pytest.raises(ConfigError):
            LabBins.parse(bad)
