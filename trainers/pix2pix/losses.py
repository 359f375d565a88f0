"""The paper's objectives (Table 1): L1, GAN, cGAN, L1+GAN, L1+cGAN, with vanilla or LSGAN loss.

G minimises ``gan(D(x, G(x)), real) + lambda * |y - G(x)|_1`` (the non-saturating form of
maximising log D); D minimises ``0.5 * (gan(D(x, y), real) + gan(D(x, G(x)), fake))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from p2peval.core.registry import Registry


@dataclass(frozen=True)
class Objective:
    l1: bool            # the L1 reconstruction term
    gan: bool           # an adversarial term (a discriminator is trained)
    conditional: bool   # D sees the input x as well as the output


OBJECTIVES: Registry[Objective] = Registry("objective")
OBJECTIVES.register("l1", Objective(l1=True, gan=False, conditional=False))
OBJECTIVES.register("gan", Objective(l1=False, gan=True, conditional=False))
OBJECTIVES.register("cgan", Objective(l1=False, gan=True, conditional=True))
OBJECTIVES.register("l1+gan", Objective(l1=True, gan=True, conditional=False))
OBJECTIVES.register("l1+cgan", Objective(l1=True, gan=True, conditional=True))


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
