"""Unpaired data for CycleGAN: two domains A and B, sampled independently.

Layouts:
- ``unaligned``: the reference datasets' ``trainA/``, ``trainB/``, ``testA/``, ``testB/`` folders
  (``<split>A``, ``<split>B``), any number of images in each.
- ``pix2pix``: a pix2pix folder of A|B pair images (``DIR/<split>/*.png``) read as two domains:
  the left halves are A, the right halves B, and the two sides are drawn independently.
- ``cityscapes``: a Cityscapes root or a toy-city folder; A = colour label, B = photo (so
  labels -> photo is ``AtoB`` and photo -> labels ``BtoA``).

An epoch has ``max(|A|, |B|)`` items, as in the reference: item ``i`` of the epoch's permutation
takes A image ``i mod |A|`` and a B image drawn at random. The B draw, the crops and the mirrors are
pure functions of (seed, epoch, item), so resumed, multi-worker and multi-process runs see the same
images.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from p2peval.core.errors import InputError
from trainers.common.images import resize, to_tensor
from trainers.common.sources import cityscapes_pair, detect_layout, split_pair
from trainers.cyclegan.config import DataConfig


@dataclass(frozen=True)
class DomainRecord:
    """One image of one domain."""
    id: str                              # Cityscapes id, or the file stem
    is_cityscapes: bool                  # translated outputs are then named <id>_leftImg8bit.png
    load: Callable[[], np.ndarray]       # -> (H, W, 3) uint8
    is_label: bool = False               # resized with nearest neighbour


def _unaligned_dir(root: Path, split: str, side: str) -> Path:
    return root / f"{split}{side}"


def detect(root: Path, split: str) -> str:
    """``unaligned`` when ``<split>A/`` or ``<split>B/`` exists, else the paired layouts' detection."""
    if _unaligned_dir(root, split, "A").is_dir() or _unaligned_dir(root, split, "B").is_dir():
        return "unaligned"
    return detect_layout(root, split)


def _folder_records(folder: Path) -> list[DomainRecord]:
    from p2peval.core.imageio import list_images, read_rgb
    if not folder.is_dir():
        raise InputError("domain folder is missing", folder)
    files = list_images(folder)
    if not files:
        raise InputError("no images in this domain folder", folder)
    return [DomainRecord(p.stem, False, (lambda p=p: read_rgb(p))) for p in files]


def list_domain(root: str | Path, layout: str, split: str, side: str, need_photo: bool = True
                ) -> tuple[str, list[DomainRecord]]:
    """(layout used, records of domain ``side`` ("A" or "B") in ``split``), in a stable order.

    ``need_photo=False`` lets Cityscapes frames without a photo through (labels -> photo needs
    only the labels).
    """
    from p2peval.core.imageio import list_images
    root = Path(root)
    if layout == "auto":
        layout = detect(root, split)
    if layout == "unaligned":
        return layout, _folder_records(_unaligned_dir(root, split, side))
    if layout == "cityscapes":
        from p2peval.data.cityscapes import list_frames
        frames = list_frames(root, split)
        if side == "A":
            return layout, [DomainRecord(f.id, True, (lambda f=f: cityscapes_pair(f, need_photo=False)[0]),
                                         is_label=True) for f in frames]
        return layout, [DomainRecord(f.id, True, (lambda f=f: cityscapes_pair(f, need_photo=need_photo)[1]))
                        for f in frames]
    folder = root / split
    if not folder.is_dir():
        raise InputError(f"no {split}/ folder of images", root)
    files = list_images(folder)
    if not files:
        raise InputError("no images in this folder", folder)
    half = 0 if side == "A" else 1
    return layout, [DomainRecord(p.stem, False, (lambda p=p: split_pair(p)[half])) for p in files]


def list_domains(root: str | Path, layout: str, split: str) -> tuple[str, list[DomainRecord], list[DomainRecord]]:
    """(layout used, A records, B records) of ``split``."""
    layout, a = list_domain(root, layout, split, "A")
    return layout, a, list_domain(root, layout, split, "B")[1]


def load_image(rec: DomainRecord, channels: int) -> np.ndarray:
    """(H, W, channels) uint8; greyscale by the ITU-R 601 luma weights (PIL's ``L``)."""
    img = rec.load()
    if channels == 1:
        from PIL import Image
        img = np.asarray(Image.fromarray(img).convert("L"))[..., None]
    return img


class UnpairedDataset(torch.utils.data.Dataset):
    """Items ``{"A", "B"}`` of (C, H, W) tensors in [-1, 1], indexed by ``(epoch, item)``.

    With ``train=False`` there is no jitter and item ``i`` is A ``i`` with B ``i`` (both resized
    to ``size``; for sample grids).
    """

    def __init__(self, a: list[DomainRecord], b: list[DomainRecord], cfg: DataConfig, train: bool,
                 seed: int = 0, size: int | None = None):
        self.a, self.b, self.cfg, self.train, self.seed = a, b, cfg, train, seed
        self.size = size or cfg.crop_size

    def __len__(self) -> int:
        return max(len(self.a), len(self.b))

    def pick(self, epoch: int, item: int) -> tuple[int, int]:
        """(A index, B index) of an epoch's item: A in order, B at random (unpaired)."""
        rng = np.random.default_rng([self.seed, epoch, item, 2])
        return item % len(self.a), int(rng.integers(0, len(self.b)))

    def jitter(self, epoch: int, item: int, domain: int) -> tuple[int, int, bool]:
        """(x, y, flip) of one domain's image: each domain has its own crop and mirror."""
        rng = np.random.default_rng([self.seed, epoch, item, domain])
        c = self.cfg
        if c.preprocess == "resize_and_crop":
            x, y = (int(v) for v in rng.integers(0, c.load_size - c.crop_size + 1, size=2))
        else:
            x = y = 0
        return x, y, bool(c.flip and rng.random() < 0.5)

    def _prepare(self, rec: DomainRecord, channels: int, epoch: int, item: int, domain: int) -> torch.Tensor:
        img = load_image(rec, channels)
        c = self.cfg
        if not self.train:
            return to_tensor(resize(img, self.size, rec.is_label))
        side = c.load_size if c.preprocess == "resize_and_crop" else c.crop_size
        img = resize(img, side, rec.is_label)
        x, y, flip = self.jitter(epoch, item, domain)
        img = img[y:y + c.crop_size, x:x + c.crop_size]
        return to_tensor(img[:, ::-1] if flip else img)

    def __getitem__(self, key) -> dict:
        epoch, item = key if isinstance(key, tuple) else (0, key)
        if self.train:
            ia, ib = self.pick(epoch, item)
        else:
            ia, ib = item % len(self.a), item % len(self.b)
        return {"A": self._prepare(self.a[ia], self.cfg.channels_A, epoch, item, 0),
                "B": self._prepare(self.b[ib], self.cfg.channels_B, epoch, item, 1),
                "index_A": ia, "index_B": ib}
