"""Image reading and writing with strict, explained checks.

Every reader returns exactly what the protocol needs (uint8 RGB, or uint8 label maps) and refuses
anything it cannot convert losslessly, with one line naming the file (``InputError``).
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from p2peval.core.atomic import write_bytes_atomic
from p2peval.core.errors import InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def _png_bit_depth(path: Path) -> int | None:
    """Bit depth from a PNG's IHDR (byte 24), or None if not a PNG."""
    with open(path, "rb") as f:
        head = f.read(26)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or len(head) < 26:
        return None
    return head[24]


def _open(path: Path) -> Image.Image:
    if not path.exists():
        raise InputError("no such file", path)
    try:
        img = Image.open(path)
        img.load()  # decode fully now: truncated files fail here, not later
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise InputError(f"unreadable or truncated image ({str(e).splitlines()[0][:100]})", path) from None
    return img


def read_rgb(path: str | Path) -> np.ndarray:
    """Read an image as (H, W, 3) uint8 RGB.

    Grayscale, palette, bilevel and opaque RGBA/LA images are converted (lossless); RGBA with
    transparency, 16-bit colour, float and CMYK images are refused. 16-bit grayscale is accepted
    only when every value is an exact 8-bit value scaled by 257.
    """
    path = Path(path)
    img = _open(path)
    depth = _png_bit_depth(path)
    mode = img.mode
    if depth == 16 and mode in ("RGB", "RGBA"):
        raise InputError("16-bit colour PNG; results must be 8-bit RGB (convert without rescaling "
                         "the value range)", path)
    if mode == "RGB":
        return np.asarray(img, dtype=np.uint8)
    if mode in ("L", "1", "P"):
        if mode == "P" and "transparency" in img.info:
            rgba = np.asarray(img.convert("RGBA"))
            if (rgba[..., 3] != 255).any():
                raise InputError("palette image with transparent pixels; expected opaque RGB", path)
            return np.ascontiguousarray(rgba[..., :3])
        return np.asarray(img.convert("RGB"), dtype=np.uint8)
    if mode in ("RGBA", "LA"):
        arr = np.asarray(img)
        if (arr[..., -1] != 255).any():
            raise InputError(f"{mode} image with transparent pixels; expected opaque RGB", path)
        return np.asarray(img.convert("RGB"), dtype=np.uint8)
    if mode in ("I;16", "I;16B", "I;16L", "I") and depth == 16:
        arr = np.asarray(img).astype(np.int64)
        if (arr % 257 != 0).any():
            raise InputError("16-bit grayscale image whose values are not exact 8-bit values; "
                             "refusing a lossy conversion", path)
        g = (arr // 257).astype(np.uint8)
        return np.repeat(g[..., None], 3, axis=2)
    raise InputError(f"unsupported image mode {mode!r}; expected 8-bit RGB", path)


def read_label(path: str | Path) -> np.ndarray:
    """Read a single-channel label image (uint8 ids) as (H, W) uint8; palette indices are kept."""
    path = Path(path)
    img = _open(path)
    if img.mode in ("L", "P"):
        return np.asarray(img, dtype=np.uint8)
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img)
        if arr.max(initial=0) > 255 or arr.min(initial=0) < 0:
            raise InputError("label image has values outside 0..255", path)
        return arr.astype(np.uint8)
    raise InputError(f"label image has mode {img.mode!r}; expected single-channel 8-bit ids", path)


def is_jpeg(path: str | Path) -> bool:
    with open(path, "rb") as f:
        return f.read(3) == b"\xff\xd8\xff"


try:
    from isal import (
        isal_zlib as _isal_zlib,  # ISA-L deflate: several times faster than zlib
    )
except ImportError:
    _isal_zlib = None

_PNG_COLOR_TYPE = {1: 0, 3: 2, 4: 6}  # channels -> PNG colour type (grey, RGB, RGBA)


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(tag)))


def encode_png(array: np.ndarray, photo: bool = False) -> bytes:
    """uint8 (H, W), (H, W, 3) or (H, W, 4) -> PNG bytes (8 bits per sample, no metadata).

    One filter for the whole image (``photo=True``: Sub, which suits noisy natural images;
    otherwise Up, which suits label maps) and deflate by ISA-L (``isal``) at level 1: about 10x
    faster than PIL's encoder here and no larger. Without ``isal``, zlib at level 1 (Huffman-only
    for photos). Any standard decoder reads the result; the pixels are exact.
    """
    a = np.asarray(array)
    channels = 1 if a.ndim == 2 else (a.shape[2] if a.ndim == 3 else 0)
    if a.dtype != np.uint8 or channels not in _PNG_COLOR_TYPE or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"encode_png: expected uint8 (H, W[, 3|4]), got {a.dtype} {a.shape}")
    h, w = a.shape[:2]
    flat = np.ascontiguousarray(a).reshape(h, w * channels)
    rows = np.empty((h, 1 + w * channels), np.uint8)  # each row: filter type byte, filtered bytes
    if photo:  # Sub: each byte minus the same channel of the pixel to its left (mod 256)
        rows[:, 0] = 1
        rows[:, 1:1 + channels] = flat[:, :channels]
        np.subtract(flat[:, channels:], flat[:, :-channels], out=rows[:, 1 + channels:])
    else:  # Up: each byte minus the byte above (mod 256)
        rows[:, 0] = 2
        rows[0, 1:] = flat[0]
        np.subtract(flat[1:], flat[:-1], out=rows[1:, 1:])
    if _isal_zlib is not None:
        idat = _isal_zlib.compress(rows.data, 1)
    else:
        packer = zlib.compressobj(1, zlib.DEFLATED, 15, 9, zlib.Z_HUFFMAN_ONLY if photo else zlib.Z_DEFAULT_STRATEGY)
        idat = packer.compress(rows.data) + packer.flush()
    header = struct.pack(">IIBBBBB", w, h, 8, _PNG_COLOR_TYPE[channels], 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def write_png(path: str | Path, array: np.ndarray, photo: bool = False) -> Path:
    """Write uint8 (H, W), (H, W, 3) or (H, W, 4) as PNG atomically (temp file + rename).

    ``photo=True`` picks the encoder settings for noisy natural images (same pixels; see
    ``encode_png``).
    """
    return write_bytes_atomic(path, encode_png(array, photo))
    return path


def list_images(folder: str | Path, suffixes=IMAGE_SUFFIXES) -> list[Path]:
    """Sorted image files directly in ``folder``; refuses a missing folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("no such folder", folder)
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes
                  and not p.name.startswith("."))


def pil_bilinear_resize(rgb: np.ndarray, size_hw: tuple[int, int], out: np.ndarray | None = None) -> np.ndarray:
    """Resize uint8 RGB with PIL's bilinear filter, as ``scipy.misc.imresize`` did (uint8 out),
    PIL's bytes exactly (``core.resample``: a faster kernel where it is built). ``out``: an optional
    C-contiguous array of the output shape to write into."""
    from p2peval.core.resample import bilinear_resize
    return bilinear_resize(rgb, size_hw, out=out, kernel=os.environ.get("P2PEVAL_RESIZE_KERNEL") or None)
