"""Running a scorer the way the reference evaluator does (docs/reference.md 1.5-1.6).

Preprocessing happens on the device from uint8 (4x less to transfer than float32): RGB -> BGR,
subtract the protocol's mean, no division by 255, HWC -> CHW. The reference subtracts a float64
mean from a float32 array in place (numpy computes in float64 and rounds to float32), so the
subtraction goes through a 256-entry table per channel computed in float64: bit-identical.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from p2peval.core.errors import ConfigError, InputError
from p2peval.scoring.protocols import Protocol


def preprocess_table(protocol: Protocol) -> np.ndarray:
    """(3, 256) float32: value of input level v in network channel c (after channel reordering)."""
    levels = np.arange(256, dtype=np.float64)
    mean = np.asarray(protocol.mean, dtype=np.float64)  # in the network's channel order
    return ((levels[None, :] - mean[:, None]) * protocol.scale).astype(np.float32)


def preprocess(x: torch.Tensor, protocol: Protocol, table: torch.Tensor | None = None) -> torch.Tensor:
    """(B, H, W, 3) uint8 RGB on any device -> (B, 3, H, W) float32 network input."""
    if table is None:
        table = torch.from_numpy(preprocess_table(protocol)).to(x.device)
    order = (2, 1, 0) if protocol.channel_order == "BGR" else (0, 1, 2)
    idx = x.long()
    return torch.stack([table[c][idx[..., src]] for c, src in enumerate(order)], dim=1)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad (B, C, H, W) at the bottom/right to multiples of ``multiple`` (reflect, or replicate
    where the image is too small to reflect); logits are cropped back afterwards."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)


def scorer_logits(model: nn.Module, x: torch.Tensor, size_multiple: int = 1) -> torch.Tensor:
    """(B, 3, H, W) preprocessed -> (B, K, H, W) logits at the input size."""
    h, w = x.shape[-2:]
    out = model(pad_to_multiple(x, size_multiple) if size_multiple > 1 else x)
    return out[..., :h, :w]


@contextmanager
def tf32_disabled(device: str, protocol: Protocol) -> Iterator[None]:
    """Turn TF32 off on CUDA for the run when the protocol asks for it; restore afterwards."""
    if not (device.startswith("cuda") and protocol.disable_tf32):
        yield
        return
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def load_checked_scorer(path: str | Path, device: str = "cpu") -> tuple[nn.Module, dict, int]:
    """Load a scorer checkpoint (verified), move it to ``device``; returns (model, meta, size multiple)."""
    from p2peval.scorers.checkpoint import load_scorer
    from p2peval.scorers.registry import ARCHS

    try:
        model, meta = load_scorer(path)
        spec = ARCHS.get(meta["arch"])
    except ConfigError as e:  # an architecture this version does not know
        raise InputError(f"checkpoint of an unknown architecture ({e})", path) from None
    k = int(meta.get("num_outputs") or 0)
    if k < 19:
        raise InputError(f"scorer has {k} outputs; the 19 Cityscapes classes need at least 19", path)
    return model.to(device), meta, spec.size_multiple
