"""Where training images come from: pix2pix A|B pair files, the Cityscapes native layout
(a Cityscapes root or a toy-city folder), and layout detection.

Cityscapes native layout: A = colour label (``gtFine_color.png``, or the colours of
``gtFine_labelIds.png`` when it is missing), B = photo.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from p2peval.core.errors import InputError


def split_pair(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(A, B) halves of a pix2pix pair image stored side by side."""
    from p2peval.core.imageio import read_rgb
    ab = read_rgb(path)
    w = ab.shape[1]
    if w % 2:
        raise InputError(f"pix2pix pair image has odd width {w}; expected A | B side by side", path)
    return ab[:, : w // 2], ab[:, w // 2:]


def single(path: Path) -> tuple[np.ndarray, np.ndarray]:
    from p2peval.core.imageio import read_rgb
    im = read_rgb(path)
    return im, im


def cityscapes_pair(frame, need_photo: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(colour label, photo) of a Cityscapes frame; a black photo when absent and not needed."""
    from p2peval.core.imageio import read_label, read_rgb
    from p2peval.data.labels import label_ids_to_color
    color = read_rgb(frame.color) if Path(frame.color).is_file() else label_ids_to_color(read_label(frame.label_ids))
    if not Path(frame.image).is_file():
        if need_photo:
            raise InputError("photo of this frame is missing (leftImg8bit)", frame.image)
        return color, np.zeros_like(color)  # labels -> photo at test time: the photo is not used
    photo = read_rgb(frame.image)
    if color.shape[:2] != photo.shape[:2]:
        raise InputError(f"colour label size {color.shape[1]}x{color.shape[0]} differs from the photo's "
                         f"{photo.shape[1]}x{photo.shape[0]}", frame.color)
    return color, photo


def detect_layout(root: Path, split: str) -> str:
    """``cityscapes`` for a Cityscapes root or toy-city OUT, ``pix2pix`` for ``DIR/<split>/`` images."""
    from p2peval.core.imageio import list_images
    from p2peval.data.cityscapes import find_cityscapes_root
    try:
        find_cityscapes_root(root)
        return "cityscapes"
    except InputError:
        pass
    if (root / split).is_dir() and list_images(root / split):
        return "pix2pix"
    if not root.exists():
        raise InputError("no such dataset folder", root)
    raise InputError(f"not a dataset: expected {split}/*.png (pix2pix A|B pairs), a Cityscapes root "
                     "(gtFine/, leftImg8bit/) or a toy-city folder (cityscapes/)", root)
