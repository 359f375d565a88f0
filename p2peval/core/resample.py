"""PIL's bilinear resize of uint8 images, byte for byte, in about a quarter of PIL's time.

Protocol pix2pix upsamples every 256x256 result to 1024x2048 with PIL's bilinear filter (what
``scipy.misc.imresize`` did), and that resize was the largest cost of a frame in the decoding
workers. PIL resamples separably: a horizontal pass into a temporary image, then a vertical pass,
each output sample being ``(2**21 + sum(sample * weight)) >> 22`` (clamped to 0..255) with weights
rounded to 22 fractional bits from the filter evaluated in double precision. ``filter_taps``
computes those weights and bounds the way PIL does; the optional C kernel ``_bilinear`` runs the two
passes (the vertical one along whole rows, vectorised); without it PIL itself resizes.

Where the height shrinks, recent PIL versions may run the vertical pass first (a cost rule), which
rounds differently: those resizes are left to PIL. Every other geometry is checked once per process
against PIL on a random image of that geometry before the kernel is trusted with it (PIL is used
where they differ), and the tests compare the two over many sizes.
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache

import numpy as np
from PIL import Image

try:
    from p2peval.core import _bilinear
except ImportError:  # built at install when a compiler is there
    _bilinear = None

FRAC_BITS = 22  # PIL: 32 - 8 - 2 (8-bit samples, two bits of headroom)


@lru_cache(maxsize=16)
def filter_taps(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Bilinear taps of a resize from ``in_size`` to ``out_size`` samples, as PIL computes them:
    (out_size, 2) int32 (first source sample, number of taps) and (out_size, ksize) int32 weights
    with ``FRAC_BITS`` fractional bits."""
    scale = float(in_size) / out_size
    filterscale = max(scale, 1.0)
    support = 1.0 * filterscale  # the bilinear (triangle) filter has support 1
    ksize = math.ceil(support) * 2 + 1
    center = (np.arange(out_size, dtype=np.float64) + 0.5) * scale
    first = np.maximum(np.trunc(center - support + 0.5), 0).astype(np.int64)
    count = np.minimum(np.trunc(center + support + 0.5).astype(np.int64), in_size) - first
    t = np.arange(ksize)
    arg = np.abs(((t[None, :] + first[:, None]) - center[:, None] + 0.5) * (1.0 / filterscale))
    w = np.where(arg < 1.0, 1.0 - arg, 0.0)
    w[t[None, :] >= count[:, None]] = 0.0
    total = np.zeros(out_size)
    for j in range(ksize):  # left to right, as PIL sums (adding the zeros past ``count`` is exact)
        total = total + w[:, j]
    w = np.where(total[:, None] != 0.0, w / np.where(total == 0.0, 1.0, total)[:, None], w)
    fixed = np.trunc(np.where(w < 0, -0.5, 0.5) + w * float(1 << FRAC_BITS)).astype(np.int32)
    bounds = np.stack([first, count], axis=1).astype(np.int32)
    bounds.setflags(write=False)
    fixed.setflags(write=False)
    return bounds, fixed


def pil_resize(img: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """PIL's own bilinear resize of uint8 (H, W) or (H, W, 3) (the reference for the kernel)."""
    h, w = size_hw
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(Image.fromarray(img).resize((w, h), Image.BILINEAR), dtype=np.uint8)


def bilinear_resize(img: np.ndarray, size_hw: tuple[int, int], *, out: np.ndarray | None = None,
                    kernel: str | None = None) -> np.ndarray:
    """Resize uint8 (H, W) or (H, W, C) with PIL's bilinear filter, identical to PIL's bytes.

    ``out``: an optional C-contiguous uint8 array of the output shape to write into (for example
    shared memory). ``kernel``: "c" or "pil" (default: "c" when the kernel is built).
    """
    img = np.ascontiguousarray(img, dtype=np.uint8)
    h, w = size_hw
    h_in, w_in = img.shape[:2]
    ch = 1 if img.ndim == 2 else img.shape[2]
    shape = (h, w) if img.ndim == 2 else (h, w, ch)
    from p2peval.core.errors import ConfigError
    want = kernel or ("c" if _bilinear is not None else "pil")
    if want not in ("c", "pil"):
        raise ConfigError(f"unknown resize kernel {want!r} (P2PEVAL_RESIZE_KERNEL); valid: c, pil")
    if want == "c" and _bilinear is None:
        raise ConfigError("the C resize kernel is not built (no C compiler at install?); "
                          "use P2PEVAL_RESIZE_KERNEL=pil")
    if want == "pil" or h < h_in or (h, w) == (h_in, w_in) or min(h, w, h_in, w_in) < 1 \
            or (kernel is None and not _agrees_with_pil(h_in, w_in, ch, img.ndim, h, w)):
        res = pil_resize(img, size_hw)
        if out is None:
            return res
        out[...] = res
        return out
    if out is None:
        out = np.empty(shape, np.uint8)
    elif out.shape != shape or out.dtype != np.uint8 or not out.flags.c_contiguous:
        raise ValueError(f"out: expected a C-contiguous uint8 array of shape {shape}")
    ybounds, yweights = filter_taps(h_in, h)
    src = img.reshape(h_in, w_in * ch)
    dst = out.reshape(h, w * ch)
    if w != w_in:
        xbounds, xweights = filter_taps(w_in, w)
        top = int(ybounds[0, 0])
        bottom = int(ybounds[-1, 0] + ybounds[-1, 1])
        tmp = dst if h == h_in else np.empty((bottom - top, w * ch), np.uint8)
        _bilinear.horizontal(src, tmp, ch, top, xbounds, xweights)
        if h == h_in:
            return out
        ybounds = ybounds - np.array([top, 0], np.int32)
        src = tmp
    _bilinear.vertical(src, dst, np.ascontiguousarray(ybounds), yweights)
    return out


_checked: dict[tuple[int, ...], bool] = {}


def _agrees_with_pil(h_in: int, w_in: int, ch: int, ndim: int, h: int, w: int) -> bool:
    """Whether the kernel gives PIL's bytes for this geometry, on a random image (once per process)."""
    key = (h_in, w_in, ch, ndim, h, w)
    if key not in _checked:
        probe = np.random.default_rng(0).integers(0, 256, size=(h_in, w_in, ch)[:ndim], dtype=np.uint8)
        _checked[key] = bool(np.array_equal(bilinear_resize(probe, (h, w), kernel="c"), pil_resize(probe, (h, w))))
    return _checked[key]
