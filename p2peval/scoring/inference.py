"""Running a scorer the way the reference evaluator does (docs/reference.md 1.5-1.6).

Preprocessing happens on the device from uint8 (4x less to transfer than float32): RGB -> BGR,
subtract the protocol's mean, no division by 255, HWC -> CHW. The reference subtracts a float64
mean from a float32 array in place (numpy computes in float64 and rounds to float32), so the
subtraction goes through a 256-entry table per channel computed in float64: bit-identical.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

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
    """Set TF32 on CUDA for the run as the protocol says (off for fp32 when the protocol asks for
    it, on for precision tf32); restore afterwards."""
    if not device.startswith("cuda") or (protocol.precision != "tf32" and not protocol.disable_tf32):
        yield
        return
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    allow = protocol.precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = allow
    torch.backends.cudnn.allow_tf32 = allow
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def check_precision(protocol: Protocol, device: str) -> None:
    """Refuse a precision the device cannot run: TF32 is a mode of NVIDIA GPUs only."""
    if protocol.precision == "tf32" and not device.startswith("cuda"):
        raise ConfigError(f"--precision tf32 needs a CUDA device (TF32 is a mode of NVIDIA GPUs); "
                          f"on {device} use fp32 or bf16")


def make_predict(model: nn.Module, protocol: Protocol, size_multiple: int,
                 device: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The scorer as a function: (B, H, W, 3) uint8 on ``device`` -> (B, H, W) class ids, in the
    protocol's precision (bf16: autocast; the argmax is taken over the logits in float32, so a tie
    of bf16 values goes to the first class, as in fp32). Call it inside ``tf32_disabled``."""
    table = torch.from_numpy(preprocess_table(protocol)).to(device)
    bf16 = protocol.precision == "bf16"
    kind = "cuda" if device.startswith("cuda") else "cpu"

    @torch.inference_mode()
    def predict(x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(kind, dtype=torch.bfloat16, enabled=bf16):
            logits = scorer_logits(model, preprocess(x, protocol, table), size_multiple)  # (B, K, H, W)
        # (B, H, W), the first maximum on ties as numpy's argmax; max(1) is 2.5x faster than
        # argmax(1) over the channel axis on the CPU
        return logits.float().max(1).indices if bf16 else logits.max(1).indices

    return predict


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
