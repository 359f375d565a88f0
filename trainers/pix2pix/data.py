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

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from p2peval.core.errors import InputError
from trainers.common.images import epoch_batches, to_tensor, to_uint8  # noqa: F401 (re-exported)
from trainers.common.images import resize as _resize
from trainers.common.sources import cityscapes_pair as _cityscapes_pair
from trainers.common.sources import detect_layout  # noqa: F401 (re-exported)
from trainers.common.sources import single as _single
from trainers.common.sources import split_pair as _split_pair
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
