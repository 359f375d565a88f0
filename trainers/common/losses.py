"""GAN and reconstruction losses shared by the trainers.

``vanilla`` is binary cross-entropy on logits (pix2pix); ``lsgan`` the least-squares loss, mean
squared error against 1 (real) or 0 (fake) (CycleGAN). Losses are computed in float32 even under
bf16 autocast.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from p2peval.core.registry import Registry


def _vanilla(logits: torch.Tensor, real: bool) -> torch.Tensor:
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits, target)


def _lsgan(logits: torch.Tensor, real: bool) -> torch.Tensor:
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.mse_loss(logits, target)


GAN_LOSSES: Registry = Registry("GAN loss")
GAN_LOSSES.register("vanilla", _vanilla)
GAN_LOSSES.register("lsgan", _lsgan)


def gan_loss(mode: str, logits: torch.Tensor, real: bool) -> torch.Tensor:
    """Mean GAN loss of a patch map of logits (B, 1, h, w) against all-real or all-fake."""
    return GAN_LOSSES.get(mode)(logits.float(), real)


def l1_loss(fake: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over all pixels and channels."""
    return F.l1_loss(fake.float(), target.float())
