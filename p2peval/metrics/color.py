"""Colour-distribution metric: sRGB (D65) -> CIE Lab, per-channel Lab histograms, intersection.

The pix2pix paper (Figure 7) compares the marginal distributions of L, a and b of generated and
real images: a histogram over all pixels of all images per channel, each bin divided by the total
number of pixels, compared by histogram intersection ``sum(min(p, q))``. The bins were never
published (docs/reference.md section 2), so they are a setting here (``LabBins``) and recorded in every
score file.

Conversion (the same formulas as ``skimage.color.rgb2lab`` with illuminant D65, observer 2):
uint8 sRGB / 255 -> linear by the IEC 61966-2-1 curve -> XYZ (D65) -> Lab with the D65 white
(0.95047, 1, 1.08883). It runs in float32 with a 256-entry linearisation table; the difference
from scikit-image's float64 result is below 1e-3 in L, a and b (tested).

Speed: an optional C kernel (``_labhist.c``, built at install when a compiler is there) counts in
one vectorised pass with the same float32 arithmetic; ``lab_kernel()`` says which one runs, the
environment variable ``P2PEVAL_LAB_KERNEL=numpy`` selects the numpy code, and tests hold both to the
scikit-image tolerance below and to each other.

Binning: bin ``i`` of a channel with range ``[lo, hi)`` and ``n`` bins holds values in
``[lo + i*w, lo + (i+1)*w)``, ``w = (hi - lo) / n``. Values below ``lo`` go into the first bin and
values at or above ``hi`` into the last one (so L = 100 lands in the last L bin). Values strictly
outside ``[lo, hi]`` are counted as clipped; the default ranges contain the whole sRGB gamut, so
with them nothing is ever clipped.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

import numpy as np

from p2peval.core.errors import ConfigError

CHANNELS = ("L", "a", "b")

# sRGB (IEC 61966-2-1) primaries to XYZ, D65; the matrix scikit-image uses (``xyz_from_rgb``).
XYZ_FROM_RGB = np.array([[0.412453, 0.357580, 0.180423],
                         [0.212671, 0.715160, 0.072169],
                         [0.019334, 0.119193, 0.950227]])
D65_WHITE = np.array([0.95047, 1.0, 1.08883])  # CIE 1931 2-degree observer
# Lab extremes over all 2^24 8-bit sRGB colours (computed with skimage.color.rgb2lab; a test
# recomputes them): L in [0, 100], a in [-86.18, 98.23], b in [-107.86, 94.48].
SRGB_GAMUT_LAB = {"L": (0.0, 100.0), "a": (-86.1831, 98.2331), "b": (-107.8574, 94.4782)}

_EPS = 0.008856  # CIE (6/29)^3 as rounded in scikit-image
_KAPPA = 7.787   # CIE (29/6)^2 / 3 as rounded in scikit-image
_CHUNK = 1 << 18  # pixels per conversion step: bounds temporary memory for large images


@dataclass(frozen=True)
class ChannelBins:
    """Uniform bins over ``[lo, hi)``; out-of-range values go to the first/last bin."""

    lo: float
    hi: float
    n: int

    def __post_init__(self):
        if not (self.n >= 1 and self.hi > self.lo):
            raise ConfigError(f"bad histogram bins lo={self.lo} hi={self.hi} n={self.n}: need n >= 1 and hi > lo")

    @property
    def width(self) -> float:
        return (self.hi - self.lo) / self.n

    def edges(self) -> np.ndarray:
        return np.linspace(self.lo, self.hi, self.n + 1)

    def centers(self) -> np.ndarray:
        e = self.edges()
        return (e[:-1] + e[1:]) / 2


@dataclass(frozen=True)
class LabBins:
    """Bins of the three Lab channels. Default: L 100 bins on [0, 100], a and b 256 bins of
    width 1 on [-128, 128)."""

    L: ChannelBins = field(default_factory=lambda: ChannelBins(0.0, 100.0, 100))
    a: ChannelBins = field(default_factory=lambda: ChannelBins(-128.0, 128.0, 256))
    b: ChannelBins = field(default_factory=lambda: ChannelBins(-128.0, 128.0, 256))

    def channel(self, name: str) -> ChannelBins:
        return getattr(self, name)

    @property
    def sizes(self) -> tuple[int, int, int]:
        return (self.L.n, self.a.n, self.b.n)

    @property
    def total(self) -> int:
        return sum(self.sizes)

    def offsets(self) -> tuple[int, int, int]:
        """Start of each channel in a concatenated (L | a | b) count vector."""
        return (0, self.L.n, self.L.n + self.a.n)

    def covers_srgb_gamut(self) -> bool:
        """True when no 8-bit sRGB colour can fall outside the ranges (nothing is ever clipped)."""
        return all(self.channel(c).lo <= SRGB_GAMUT_LAB[c][0] - 1e-3
                   and self.channel(c).hi >= SRGB_GAMUT_LAB[c][1] + 1e-3 for c in CHANNELS)

    def to_dict(self) -> dict:
        return {c: asdict(self.channel(c)) for c in CHANNELS}

    @classmethod
    def from_dict(cls, d: dict) -> "LabBins":
        try:
            return cls(**{c: ChannelBins(float(d[c]["lo"]), float(d[c]["hi"]), int(d[c]["n"])) for c in CHANNELS})
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"bad bins specification {d!r} ({e})") from None

    @classmethod
    def parse(cls, L: str | None = None, a: str | None = None, b: str | None = None) -> "LabBins":
        """From command-line specs ``N`` or ``LO:HI:N`` per channel (None keeps the default)."""
        default = cls()
        out = {}
        for name, spec in (("L", L), ("a", a), ("b", b)):
            d = default.channel(name)
            if spec is None:
                out[name] = d
                continue
            parts = str(spec).split(":")
            try:
                if len(parts) == 1:
                    out[name] = ChannelBins(d.lo, d.hi, int(parts[0]))
                elif len(parts) == 3:
                    out[name] = ChannelBins(float(parts[0]), float(parts[1]), int(parts[2]))
                else:
                    raise ValueError("expected N or LO:HI:N")
            except (ValueError, ConfigError) as e:
                raise ConfigError(f"bad bins for channel {name}: {spec!r} ({e})") from None
        return cls(**out)


def _linearisation_table() -> np.ndarray:
    """sRGB 8-bit code -> linear intensity (IEC 61966-2-1), float32 (256,)."""
    v = np.arange(256, dtype=np.float64) / 255.0
    return np.where(v > 0.04045, ((v + 0.055) / 1.055) ** 2.4, v / 12.92).astype(np.float32)


_LIN = _linearisation_table()
# XYZ scaled by the reference white, so that the Lab non-linearity applies directly.
_XYZN_FROM_RGB = (XYZ_FROM_RGB / D65_WHITE[:, None]).astype(np.float32)

try:
    from p2peval.metrics import _labhist
except ImportError:  # built without a C compiler: the numpy code below does the same work
    _labhist = None


def _kernel_table() -> np.ndarray:
    """float32 (3, 256, 4): per channel and code, its (X/Xn, Y/Yn, Z/Zn, 0) contribution."""
    lin = _linearisation_table().astype(np.float64)
    m = XYZ_FROM_RGB / D65_WHITE[:, None]
    t = np.zeros((3, 256, 4), np.float32)
    for c in range(3):
        t[c, :, :3] = lin[:, None] * m[:, c][None, :]
    return t


_KERNEL_TABLE = _kernel_table()


def lab_kernel(kernel: str | None = None) -> str:
    """The implementation that counts: ``"c"`` (the compiled kernel) or ``"numpy"``.

    ``kernel`` None picks ``"c"`` when it is built, unless ``P2PEVAL_LAB_KERNEL=numpy``.
    """
    want = kernel or os.environ.get("P2PEVAL_LAB_KERNEL") or ("c" if _labhist is not None else "numpy")
    if want not in ("c", "numpy"):
        raise ConfigError(f"unknown Lab histogram kernel {want!r}; valid: c, numpy")
    if want == "c" and _labhist is None:
        raise ConfigError("the C Lab histogram kernel is not built (no C compiler at install?); "
                          "use P2PEVAL_LAB_KERNEL=numpy")
    return want


class LabWorkspace:
    """Scratch buffers reused across images of one size.

    Fresh multi-megabyte temporaries per image cost page faults that, measured, took longer than
    the arithmetic; a worker keeps one workspace for a batch of images. Not thread-safe.
    """

    def __init__(self) -> None:
        self.n = -1

    def get(self, n: int) -> "LabWorkspace":
        if n != self.n:
            self.n = n
            self.idx = np.empty((3, n), np.intp)      # sRGB codes, later bin indices
            self.lin = np.empty((3, n), np.float32)   # linear RGB, later Lab / bin positions
            self.xyz = np.empty((3, n), np.float32)
            self.f = np.empty((3, n), np.float32)
            self.tmp = np.empty(n, np.float32)
            self.mask = np.empty((3, n), bool)
        return self


def _f_planar(rgb_flat: np.ndarray, ws: LabWorkspace) -> np.ndarray:
    """(N, 3) uint8 sRGB -> (3, N) float32 Lab non-linearity f(X/Xn), f(Y/Yn), f(Z/Zn).

    The result lives in ``ws.f``; ``ws.lin`` and ``ws.xyz`` are free again afterwards.
    """
    b = ws.get(rgb_flat.shape[0])
    np.copyto(b.idx, rgb_flat.T, casting="unsafe")    # (3, N) codes as indices
    np.take(_LIN, b.idx, out=b.lin)                   # (3, N) linear RGB
    # 3x3 transform written out: a BLAS call here is 10x slower on a loaded machine (its threads).
    m, lin, xyz = _XYZN_FROM_RGB, b.lin, b.xyz
    for i in range(3):
        np.multiply(lin[0], m[i, 0], out=xyz[i])
        for j in (1, 2):
            np.multiply(lin[j], m[i, j], out=b.tmp)
            xyz[i] += b.tmp
    f = np.cbrt(xyz, out=b.f)
    np.less_equal(xyz, np.float32(_EPS), out=b.mask)
    if b.mask.any():  # the linear segment near black; copyto is much faster than f[mask] = ...
        xyz *= np.float32(_KAPPA)
        xyz += np.float32(16.0 / 116.0)
        np.copyto(f, xyz, where=b.mask)
    return f


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim < 1 or rgb.shape[-1] != 3:
        raise ValueError(f"expected uint8 (..., 3) sRGB, got {rgb.dtype} {rgb.shape}")
    return rgb.reshape(-1, 3)


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB (..., 3) -> CIE Lab (..., 3) float32 (D65, 2-degree observer)."""
    rgb = np.asarray(rgb)
    flat = _check_rgb(rgb)
    out = np.empty((flat.shape[0], 3), np.float32)
    ws = LabWorkspace()
    for s in range(0, flat.shape[0], _CHUNK):
        fx, fy, fz = _f_planar(flat[s:s + _CHUNK], ws)
        out[s:s + _CHUNK, 0] = 116.0 * fy - 16.0
        out[s:s + _CHUNK, 1] = 500.0 * (fx - fy)
        out[s:s + _CHUNK, 2] = 200.0 * (fy - fz)
    return out.reshape(rgb.shape[:-1] + (3,))


def _bin_positions(f: np.ndarray, bins: LabBins, out: np.ndarray) -> np.ndarray:
    """(3, N) f values -> (3, N) float32 fractional bin positions ``(value - lo) / width``."""
    u = out
    fx, fy, fz = f
    for i, (ch, k) in enumerate(zip(CHANNELS, (116.0, 500.0, 200.0))):
        cb = bins.channel(ch)
        scale = np.float32(k / cb.width)
        if ch == "L":    # L = 116 fy - 16
            np.multiply(fy, scale, out=u[i])
            u[i] += np.float32((-16.0 - cb.lo) / cb.width)
        else:            # a = 500 (fx - fy), b = 200 (fy - fz)
            first, second = (fx, fy) if ch == "a" else (fy, fz)
            np.subtract(first, second, out=u[i])
            u[i] *= scale
            u[i] += np.float32(-cb.lo / cb.width)
    return u


def _kernel_params(bins: LabBins) -> np.ndarray:
    return np.array([v for ch in CHANNELS for v in (bins.channel(ch).lo, 1.0 / bins.channel(ch).width,
                                                     bins.channel(ch).n)], np.float32)


def lab_bin_counts(rgb: np.ndarray, bins: LabBins = LabBins(), workspace: LabWorkspace | None = None,
                   kernel: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Integer Lab histogram of one image (``_update``).

    Returns ``(counts, clipped)``: ``counts`` (L.n + a.n + b.n,) int64, the L, a and b counts
    concatenated; ``clipped`` (3,) int64, pixels per channel strictly outside ``[lo, hi]``
    (always zero with ranges that cover the sRGB gamut). ``kernel``: see ``lab_kernel``. Pass one
    ``workspace`` for many images (the numpy kernel's scratch memory).
    """
    flat = _check_rgb(rgb)
    counts = np.zeros(bins.total, np.int64)
    clipped = np.zeros(3, np.int64)
    if lab_kernel(kernel) == "c":
        _labhist.count(np.ascontiguousarray(flat), _KERNEL_TABLE, _kernel_params(bins), counts, clipped)
        return counts, clipped
    ws = workspace if workspace is not None else LabWorkspace()
    top = np.array(bins.sizes, np.float32)[:, None]
    offsets = np.array(bins.offsets(), np.intp)[:, None]
    check_clip = not bins.covers_srgb_gamut()
    for s in range(0, flat.shape[0], _CHUNK):
        f = _f_planar(flat[s:s + _CHUNK], ws)
        u = _bin_positions(f, bins, out=ws.lin)  # (3, n)
        if check_clip:
            clipped += ((u < 0) | (u > top)).sum(1)
        # Truncation equals floor for the non-negative values left after clipping at 0;
        # values >= n (including the edge hi itself) land in the last bin.
        np.clip(u, 0, top - 1, out=u)
        idx = ws.idx
        np.copyto(idx, u, casting="unsafe")
        idx += offsets
        counts += np.bincount(idx.reshape(-1), minlength=bins.total)
    return counts, clipped


def split_channels(vec: np.ndarray, bins: LabBins) -> dict[str, np.ndarray]:
    """Concatenated (..., L.n + a.n + b.n) array -> {"L": (..., L.n), "a": ..., "b": ...}."""
    o = bins.offsets() + (bins.total,)
    return {ch: vec[..., o[i]:o[i + 1]] for i, ch in enumerate(CHANNELS)}


def normalise(counts: np.ndarray, bins: LabBins) -> np.ndarray:
    """Counts (..., total) -> probabilities per channel (each channel divided by its pixel
    count, which is the total number of pixels since every pixel lands in one bin)."""
    counts = np.asarray(counts, dtype=np.float64)
    out = np.empty_like(counts)
    o = bins.offsets() + (bins.total,)
    for i in range(3):
        seg = counts[..., o[i]:o[i + 1]]
        tot = seg.sum(-1, keepdims=True)
        out[..., o[i]:o[i + 1]] = seg / np.where(tot > 0, tot, 1.0)
    return out


def histogram_intersection(p: np.ndarray, q: np.ndarray, bins: LabBins) -> dict[str, np.ndarray]:
    """Per-channel ``sum(min(p, q))`` of normalised histograms (..., total) (``_compute``).

    1 for identical distributions, 0 for disjoint ones, symmetric in p and q.
    """
    m = np.minimum(np.asarray(p, np.float64), np.asarray(q, np.float64))
    return {ch: v.sum(-1) for ch, v in split_channels(m, bins).items()}


def intersection_from_counts(counts_p: np.ndarray, counts_q: np.ndarray, bins: LabBins) -> dict[str, np.ndarray]:
    """Intersection of pooled integer counts (..., total): normalise, then ``sum(min)``."""
    return histogram_intersection(normalise(counts_p, bins), normalise(counts_q, bins), bins)
