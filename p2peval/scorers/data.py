"""Training data for scorers, prepared the way the reference FCN-8s was trained.

The reference scorer saw Cityscapes photos downsampled to 256x256 and upsampled back, against the
full-resolution train-id labels (docs/reference.md 1.6). So a training input is exactly what
``fcn-score`` would feed the scorer for a perfect generator's output:

    photo (H, W) --PIL bicubic--> protocol.generated_size (256x256)
          --PIL bilinear uint8 (as fcn-score)--> (H, W) --BGR minus mean--> (3, H, W) float32

and the target is the label's train ids at (H, W), 255 = ignore. For a protocol that scores at the
generated resolution (``fast``) the input stays at 256x256 and the label is resized to it with
nearest-neighbour sampling.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from p2peval.core.errors import InputError
from p2peval.core.imageio import pil_bilinear_resize, read_rgb
from p2peval.data.cityscapes import Frame, read_train_ids
from p2peval.data.labels import IGNORE
from p2peval.scoring.protocols import Protocol


def downsample_photo(rgb: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) uint8 -> size_hw uint8 with PIL bicubic: how a photo becomes a 256x256 'result'."""
    h, w = size_hw
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(Image.fromarray(rgb).resize((w, h), Image.BICUBIC), dtype=np.uint8)


def resize_labels_nearest(train_ids: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    h, w = size_hw
    return np.asarray(Image.fromarray(train_ids).resize((w, h), Image.NEAREST), dtype=np.uint8)


def scorer_view(rgb: np.ndarray, label_hw: tuple[int, int], protocol: Protocol) -> np.ndarray:
    """What the scorer sees of a photo: downsampled to the generated size, then (for protocols
    scoring at label resolution) upsampled back to the label size as fcn-score does it."""
    small = downsample_photo(rgb, protocol.generated_size)
    if protocol.eval_resolution == "label":
        return pil_bilinear_resize(small, label_hw)
    return small


def preprocess(rgb: np.ndarray, protocol: Protocol) -> torch.Tensor:
    """(H, W, 3) uint8 RGB -> (3, H, W) float32 in the protocol's order minus its mean, times its
    scale (pix2pix: BGR minus (72.78, 83.21, 73.45), no division by 255)."""
    x = rgb.astype(np.float64)
    if protocol.channel_order == "BGR":
        x = x[:, :, ::-1]
    # float64 arithmetic rounded once to float32, as the reference's in-place numpy subtraction.
    x = ((x - np.asarray(protocol.mean, dtype=np.float64)) * protocol.scale).astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))


@dataclass(frozen=True)
class Augment:
    """Per-sample augmentation: an optional crop (top, left, h, w) and a horizontal mirror."""

    crop: tuple[int, int, int, int] | None = None
    mirror: bool = False


def draw_augment(rng: np.random.Generator, hw: tuple[int, int], crop: tuple[int, int] | None,
                 mirror: bool) -> Augment:
    """Draw a random crop of size ``crop`` inside ``hw`` and a mirror flag (p = 0.5)."""
    box = None
    if crop is not None:
        ch, cw = min(crop[0], hw[0]), min(crop[1], hw[1])
        top = int(rng.integers(0, hw[0] - ch + 1))
        left = int(rng.integers(0, hw[1] - cw + 1))
        box = (top, left, ch, cw)
    flip = bool(rng.integers(0, 2)) if mirror else False
    return Augment(box, flip)


class ScorerTrainingSet:
    """Frames -> (input (3, H, W) float32, target (H, W) int64) pairs for scorer training.

    The degraded photo and the label are cached in memory (uint8) up to ``cache_bytes``, since
    the resize round trip is the same every epoch.
    """

    def __init__(self, frames: Sequence[Frame], protocol: Protocol, cache_bytes: int = 2 << 30):
        self.frames = list(frames)
        self.protocol = protocol
        self.cache_bytes = cache_bytes
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._cached = 0
        for f in self.frames:
            if not f.image.exists():
                raise InputError(f"photo of frame {f.id} is missing (training needs "
                                 "leftImg8bit photos)", f.image)

    def __len__(self) -> int:
        return len(self.frames)

    def pair(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(scorer view (h, w, 3) uint8, train ids (h, w) uint8) of one frame, unaugmented."""
        if index in self._cache:
            return self._cache[index]
        frame = self.frames[index]
        labels = read_train_ids(frame.label_ids)  # (H, W) uint8, 255 = ignore
        photo = read_rgb(frame.image)
        view = scorer_view(photo, labels.shape, self.protocol)
        if self.protocol.eval_resolution != "label":
            labels = resize_labels_nearest(labels, view.shape[:2])
        if self._cached + view.nbytes + labels.nbytes <= self.cache_bytes:
            self._cache[index] = (view, labels)
            self._cached += view.nbytes + labels.nbytes
        return view, labels

    def item(self, index: int, augment: Augment = Augment()) -> tuple[torch.Tensor, torch.Tensor]:
        view, labels = self.pair(index)
        if augment.crop is not None:
            t, l, h, w = augment.crop
            view, labels = view[t:t + h, l:l + w], labels[t:t + h, l:l + w]
        if augment.mirror:
            view, labels = view[:, ::-1], labels[:, ::-1]
        x = preprocess(np.ascontiguousarray(view), self.protocol)  # (3, h, w)
        y = torch.from_numpy(np.ascontiguousarray(labels).astype(np.int64))  # (h, w)
        return x, y

    def size(self, index: int) -> tuple[int, int]:
        return self.pair(index)[1].shape


def pad_to_multiple(x: torch.Tensor, multiple: int, value: float = 0.0) -> torch.Tensor:
    """Pad (..., H, W) at the bottom/right to multiples of ``multiple`` (smp encoders need 32).

    Inputs are padded with 0 (the mean colour after mean subtraction), targets with ``IGNORE``.
    """
    if multiple <= 1:
        return x
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x
    return torch.nn.functional.pad(x, (0, pw, 0, ph), value=value)


def pad_target(y: torch.Tensor, multiple: int) -> torch.Tensor:
    return pad_to_multiple(y, multiple, value=IGNORE)
