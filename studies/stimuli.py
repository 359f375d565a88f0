"""Stimuli: which real and fake images exist, how they pair, and how they reach the browser.

Nothing the participant's browser receives may tell real from fake (docs/reference.md section 3).
Every image, real or fake, goes through the same path: decoded to RGB, resized to the study's one
size with the same kernel, and written as a PNG with no metadata chunks and *stored* (level 0)
compression, so the bytes have the same length for every image of that size and no encoder
setting or file size differs between the two sides. The browser gets their bytes inside the trial
message (studies/component.py) under random per-trial tokens and shows them from ``blob:`` URLs:
no file names, folders or algorithm names.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from p2peval.core.errors import InputError
from p2peval.core.imageio import list_images, read_rgb

# Suffixes that name the role of a file rather than its input (pix2pix and Cityscapes names).
_ROLE = re.compile(r"(_fake_B|_real_B|_real_A|_fake_A|_fake|_real|_leftImg8bit|_gtFine_color)$")


def input_key(path: Path) -> str:
    """The input an image was made from: its stem without role suffixes."""
    return _ROLE.sub("", path.stem)


def _role_images(folder: Path, suffix: str) -> list[Path]:
    """The ``*<suffix>`` images of a folder when there are any, else all its images."""
    images = list_images(folder)
    chosen = [p for p in images if p.stem.endswith(suffix)]
    if not (chosen or images):
        raise InputError("no images in folder", folder)
    return chosen or images


def fake_images(folder: Path) -> list[Path]:
    """Generated images of a results folder: the ``*_fake_B`` files when there are any, else all."""
    return _role_images(folder, "_fake_B")


def real_images(folder: Path) -> list[Path]:
    """Real images: the ``*_real_B`` files when there are any, else all images of the folder."""
    return _role_images(folder, "_real_B")


@dataclass(frozen=True)
class Pool:
    """The images of one algorithm and its real counterparts.

    ``fakes[i]`` pairs with ``reals[match[i]]`` for same-input studies; for different-input
    studies ``match`` is unused and any real image with another input key can be drawn.
    """

    fakes: tuple[Path, ...]
    reals: tuple[Path, ...]
    match: tuple[int, ...] | None


def build_pool(fake_folder: Path, real_folder: Path, pairing: str) -> Pool:
    """Pair a results folder with the real folder; refuses fakes without a real counterpart."""
    fakes = fake_images(fake_folder)
    reals = real_images(real_folder)
    if pairing == "same-input":
        by_key: dict[str, int] = {}
        for i, p in enumerate(reals):
            by_key.setdefault(input_key(p), i)
        missing = [p for p in fakes if input_key(p) not in by_key]
        if missing:
            raise InputError(f"no real image for the same input (key {input_key(missing[0])!r}) in "
                             f"{real_folder}; {len(missing)} of {len(fakes)} unmatched", missing[0])
        match = tuple(by_key[input_key(p)] for p in fakes)
        return Pool(tuple(fakes), tuple(reals), match)
    keys = {input_key(p) for p in reals}
    if len(keys) < 2:
        raise InputError("different-input pairing needs at least two real images of different "
                         "inputs", real_folder)
    return Pool(tuple(fakes), tuple(reals), None)


def encode_stimulus(rgb: np.ndarray, size_hw: tuple[int, int]) -> bytes:
    """(H, W, 3) uint8 -> PNG bytes of exactly ``size_hw``, no metadata, stored compression."""
    img = Image.fromarray(rgb, mode="RGB")
    if img.size != (size_hw[1], size_hw[0]):
        img = img.resize((size_hw[1], size_hw[0]), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    # compress_level=0: deflate "stored" blocks, so the length depends only on the size.
    img.save(buf, format="PNG", compress_level=0, optimize=False)
    return buf.getvalue()


@lru_cache(maxsize=4096)
def _stimulus_cached(path: str, mtime_ns: int, size_hw: tuple[int, int]) -> bytes:
    return encode_stimulus(read_rgb(path), size_hw)


def stimulus_png(path: Path, size_hw: tuple[int, int]) -> bytes:
    """Re-encoded PNG of an image file (cached per file and modification time)."""
    path = Path(path)
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise InputError("stimulus image disappeared", path) from None
    return _stimulus_cached(str(path), mtime, size_hw)

