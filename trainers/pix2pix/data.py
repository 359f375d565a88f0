"""Paired data for pix2pix: A|B folders, the Cityscapes native layout, toy-city; jitter; the
colorization mode.

Conventions (which side is A):
- pix2pix folders (``DIR/<split>/*.png``, each image A | B side by side): as stored. The pix2pix
  Cityscapes folder has A = photo, B = colour label, so labels -> photo there is ``BtoA``.
- Cityscapes native layout (a Cityscapes root, or a toy-city OUT folder): A = colour label
  (``gtFine_color.png``, or the colours of ``gtFine_labelIds.png`` when it is missing), B = photo,
  so labels -> photo is ``AtoB`` and photo -> labels is ``BtoA``.
- images (``DIR/<split>/*.png``, single images): colorization only.

Jitter is a pure function of (seed, epoch, index), so a resumed run, a run with DataLoader workers
and a run split over processes see exactly the same crops and mirrors.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image

from p2peval.core.errors import InputError
from trainers.pix2pix.colorspace import lab_to_rgb, rgb_to_lab
from trainers.pix2pix.config import DataConfig


@dataclass(frozen=True)
class Record:
    """One training or test pair before direction is applied."""
    id: str                          # Cityscapes id, or the file stem
    is_cityscapes: bool              # outputs are then named <id>_leftImg8bit.png
    load: Callable[[], tuple[np.ndarray, np.ndarray]]  # -> (A, B) uint8 (H, W, 3)
    a_is_label: bool = False         # resize the A side with nearest neighbour
    b_is_label: bool = False


def _split_pair(path: Path) -> tuple[np.ndarray, np.ndarray]:
    from p2peval.core.imageio import read_rgb
    ab = read_rgb(path)
    h, w = ab.shape[:2]
    if w % 2:
        raise InputError(f"pix2pix pair image has odd width {w}; expected A | B side by side", path)
    return ab[:, : w // 2], ab[:, w // 2:]


def _single(path: Path) -> tuple[np.ndarray, np.ndarray]:
    from p2peval.core.imageio import read_rgb
    im = read_rgb(path)
    return im, im


def _cityscapes_pair(frame, need_photo: bool = True) -> tuple[np.ndarray, np.ndarray]:
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
    from p2peval.data.cityscapes import find_cityscapes_root
    from p2peval.core.imageio import list_images
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


def list_records(root: str | Path, layout: str, split: str,
                 need_photo: bool = True) -> tuple[str, list[Record]]:
    """The records of ``split`` in a stable order, and the layout actually used.

    ``need_photo=False`` lets Cityscapes frames without a photo through (translating labels ->
    photo needs only the labels); their B side is then black.
    """
    from p2peval.core.imageio import list_images
    root = Path(root)
    if layout == "auto":
        layout = detect_layout(root, split)
    if layout == "cityscapes":
        from p2peval.data.cityscapes import list_frames
        frames = list_frames(root, split)
        return layout, [Record(f.id, True, (lambda f=f: _cityscapes_pair(f, need_photo)), a_is_label=True)
                        for f in frames]
    folder = root / split
    if not folder.is_dir():
        raise InputError(f"no {split}/ folder of images", root)
    files = list_images(folder)
    if not files:
        raise InputError("no images in this folder", folder)
    load = _split_pair if layout == "pix2pix" else _single
    return layout, [Record(p.stem, False, (lambda p=p: load(p))) for p in files]


def _resize(img: np.ndarray, size: int, nearest: bool) -> np.ndarray:
    if img.shape[0] == size and img.shape[1] == size:
        return img
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kernel = Image.NEAREST if nearest else Image.BICUBIC
        return np.asarray(Image.fromarray(img).resize((size, size), kernel))


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """(H, W, C) uint8 -> (C, H, W) float32 in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).float().div_(127.5).sub_(1.0)


def to_uint8(x: torch.Tensor, rounding: str = "round") -> np.ndarray:
    """(C, H, W) in [-1, 1] -> (H, W, C) uint8.

    ``round`` (default) rounds to the nearest level, so an input image survives the round trip
    exactly. ``truncate`` is the reference's ``tensor2im`` (``astype(uint8)`` of
    ``(x + 1) / 2 * 255``): it maps 189 of the 256 levels of a real image one level down and
    biases generated images by -0.5 level on average.
    """
    arr = (x.detach().float().cpu().numpy().transpose(1, 2, 0) + 1.0) / 2.0 * 255.0
    if rounding == "round":
        arr = np.round(arr)
    elif rounding != "truncate":
        raise ValueError(f"rounding must be 'round' or 'truncate', got {rounding!r}")
    return np.clip(arr, 0, 255).astype(np.uint8)


def lab_tensors(rgb: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Colorization pair of the reference: A = L / 50 - 1 (1, H, W), B = ab / 110 (2, H, W)."""
    lab = torch.from_numpy(rgb_to_lab(rgb).transpose(2, 0, 1).astype(np.float32))
    return lab[[0]] / 50.0 - 1.0, lab[1:] / 110.0


def lab_to_uint8(A: torch.Tensor, B: torch.Tensor) -> np.ndarray:
    """Inverse of ``lab_tensors``: L from A, ab from B -> (H, W, 3) uint8 sRGB (rounded)."""
    L = (A.detach().float().cpu().numpy()[0] + 1.0) * 50.0
    ab = B.detach().float().cpu().numpy() * 110.0
    rgb = lab_to_rgb(np.stack([L, ab[0], ab[1]], axis=-1))
    return np.round(rgb * 255.0).astype(np.uint8)


class PairDataset(torch.utils.data.Dataset):
    """Pairs as (input, target) tensors after direction, resizing, jitter and colour mode.

    Indexed by ``(epoch, index)`` tuples so that the random crop and mirror of a sample are a pure
    function of (seed, epoch, index). With ``train=False`` there is no jitter: images are resized
    to ``size`` x ``size``.
    """

    def __init__(self, records: list[Record], cfg: DataConfig, train: bool, seed: int = 0,
                 size: int | None = None):
        self.records, self.cfg, self.train, self.seed = records, cfg, train, seed
        self.size = size or cfg.crop_size

    def __len__(self) -> int:
        return len(self.records)

    def _jitter(self, epoch: int, index: int) -> tuple[int, int, bool]:
        rng = np.random.default_rng([self.seed, epoch, index])
        c = self.cfg
        if c.preprocess == "resize_and_crop":
            x, y = (int(v) for v in rng.integers(0, c.load_size - c.crop_size + 1, size=2))
        else:
            x = y = 0
        flip = bool(c.flip and rng.random() < 0.5)
        return x, y, flip

    def __getitem__(self, key) -> dict:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        rec = self.records[index]
        A, B = rec.load()
        if self.cfg.direction == "BtoA":
            A, B = B, A
            a_label, b_label = rec.b_is_label, rec.a_is_label
        else:
            a_label, b_label = rec.a_is_label, rec.b_is_label
        c = self.cfg
        if self.train:
            side = c.load_size if c.preprocess == "resize_and_crop" else c.crop_size
            A, B = _resize(A, side, a_label), _resize(B, side, b_label)
            x, y, flip = self._jitter(epoch, index)
            A = A[y:y + c.crop_size, x:x + c.crop_size]
            B = B[y:y + c.crop_size, x:x + c.crop_size]
            if flip:
                A, B = A[:, ::-1], B[:, ::-1]
        else:
            A, B = _resize(A, self.size, a_label), _resize(B, self.size, b_label)
        if c.mode == "colorization":
            # The paper's colorization: predict ab from L of the target-side photo.
            a, b = lab_tensors(np.ascontiguousarray(B))
        else:
            a, b = to_tensor(A), to_tensor(B)
        return {"A": a, "B": b, "index": index}


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int, drop_last: bool = True) -> list[list[int]]:
    """The global batches of one epoch: a permutation seeded by (seed, epoch), cut in batches."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    perm = torch.randperm(n, generator=g).tolist()
    k = n // batch_size if drop_last else -(-n // batch_size)
    return [perm[i * batch_size:(i + 1) * batch_size] for i in range(k)]
