"""Image arrays <-> training tensors, resizing and the per-epoch permutation of the trainers.

Tensors are (C, H, W) float32 in [-1, 1]; arrays (H, W, C) uint8.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from PIL import Image


def resize(img: np.ndarray, size: int, nearest: bool) -> np.ndarray:
    """Square resize (PIL bicubic; nearest neighbour for label images); unchanged when already
    ``size`` x ``size``."""
    if img.shape[0] == size and img.shape[1] == size:
        return img
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kernel = Image.NEAREST if nearest else Image.BICUBIC
        squeeze = img.ndim == 3 and img.shape[2] == 1
        out = np.asarray(Image.fromarray(img[..., 0] if squeeze else img).resize((size, size), kernel))
        return out[..., None] if squeeze else out


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


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int, drop_last: bool = True) -> list[list[int]]:
    """The global batches of one epoch: a permutation seeded by (seed, epoch), cut in batches."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    perm = torch.randperm(n, generator=g).tolist()
    k = n // batch_size if drop_last else -(-n // batch_size)
    return [perm[i * batch_size:(i + 1) * batch_size] for i in range(k)]
