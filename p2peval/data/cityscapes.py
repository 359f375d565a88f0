"""The Cityscapes folder layout: frames, ids and ground-truth labels.

A Cityscapes root holds ``gtFine/<split>/<city>/<id>_gtFine_labelIds.png`` (and ``_color.png``)
and ``leftImg8bit/<split>/<city>/<id>_leftImg8bit.png``. Frames are listed the way the reference
evaluator lists them (docs/reference.md 1.1): cities sorted, frames sorted within each city.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from p2peval.core.errors import InputError

# <city>_<seq:06d>_<frame:06d>, at the start of any Cityscapes file name.
FRAME_ID_RE = re.compile(r"^([a-z_]+)_(\d{6})_(\d{6})")
LABEL_SUFFIX = "_gtFine_labelIds.png"
COLOR_SUFFIX = "_gtFine_color.png"
IMAGE_SUFFIX = "_leftImg8bit.png"


@dataclass(frozen=True)
class Frame:
    """One Cityscapes frame: its id and the paths of its photo and labels."""

    id: str  # e.g. "frankfurt_000000_000294"
    city: str
    split: str
    image: Path  # leftImg8bit photo (may not exist: only labels are needed for scoring)
    label_ids: Path  # gtFine_labelIds.png (raw label ids)
    color: Path  # gtFine_color.png


def frame_id(filename: str | Path) -> str | None:
    """The Cityscapes id ``<city>_<seq>_<frame>`` a file name starts with, or None."""
    m = FRAME_ID_RE.match(Path(filename).name)
    if m is None:
        return None
    return f"{m.group(1)}_{m.group(2)}_{m.group(3)}"


def is_cityscapes_root(path: str | Path) -> bool:
    """True if ``path`` has a ``gtFine`` folder with at least one split inside."""
    gt = Path(path) / "gtFine"
    return gt.is_dir() and any(p.is_dir() for p in gt.iterdir())


def find_cityscapes_root(path: str | Path) -> Path:
    """A Cityscapes root, or a folder containing ``cityscapes/`` (as toy-city writes it)."""
    path = Path(path)
    if not path.exists():
        raise InputError("no such folder", path)
    if is_cityscapes_root(path):
        return path
    if is_cityscapes_root(path / "cityscapes"):
        return path / "cityscapes"
    raise InputError("not a Cityscapes root (expected gtFine/<split>/<city>/*"
                     f"{LABEL_SUFFIX}, or a folder containing cityscapes/)", path)


def list_frames(root: str | Path, split: str = "val") -> list[Frame]:
    """Frames of ``split`` from ``gtFine/<split>/<city>/*_gtFine_labelIds.png``, reference order."""
    root = find_cityscapes_root(root)
    split_dir = root / "gtFine" / split
    if not split_dir.is_dir():
        have = sorted(p.name for p in (root / "gtFine").iterdir() if p.is_dir())
        raise InputError(f"no split {split!r} (have: {', '.join(have) or 'none'})", split_dir)
    frames: list[Frame] = []
    for city_dir in sorted(p for p in split_dir.iterdir() if p.is_dir()):
        for label in sorted(city_dir.glob("*" + LABEL_SUFFIX)):
            fid = label.name[: -len(LABEL_SUFFIX)]
            frames.append(Frame(
                id=fid, city=city_dir.name, split=split,
                image=root / "leftImg8bit" / split / city_dir.name / f"{fid}{IMAGE_SUFFIX}",
                label_ids=label, color=city_dir / f"{fid}{COLOR_SUFFIX}"))
    if not frames:
        raise InputError(f"no *{LABEL_SUFFIX} files in split {split!r}", split_dir)
    return frames


def read_train_ids(path: str | Path, out: Callable[[tuple[int, ...]], np.ndarray] | None = None,
                   nearest_hw: tuple[int, int] | None = None) -> np.ndarray:
    """Read a ``gtFine_labelIds.png`` and map raw ids to train ids: (H, W) uint8, 255 = ignore.

    ``out``: an optional function (H, W) -> uint8 array to write the train ids into.
    ``nearest_hw``: resize (PIL nearest) to this size first; nearest resizing only picks pixels, so
    resizing before mapping gives what mapping before resizing gives, with fewer pixels to map.
    8-bit grey images (what Cityscapes ships) stay in PIL from decoding to the table lookup
    (``Image.point``): one copy fewer than numpy's ``take`` on the decoded array, and faster."""
    from PIL import Image

    from p2peval.core.imageio import _open, read_label
    from p2peval.data.labels import label_ids_to_train_ids, train_id_table

    img = _open(Path(path))
    if img.mode != "L":  # palette or 16-bit ids: read_label's checks and conversion
        raw = read_label(path)
        if nearest_hw is not None and raw.shape != tuple(nearest_hw):
            raw = np.asarray(Image.fromarray(raw).resize(nearest_hw[::-1], Image.NEAREST))
        return label_ids_to_train_ids(raw, None if out is None else out(raw.shape))
    if nearest_hw is not None and img.size != tuple(nearest_hw[::-1]):
        img = img.resize(nearest_hw[::-1], Image.NEAREST)
    ids = np.frombuffer(img.point(train_id_table()).tobytes(), np.uint8).reshape(img.size[1], img.size[0])
    if out is None:
        return ids.copy()
    dst = out(ids.shape)
    np.copyto(dst, ids)
    return dst
