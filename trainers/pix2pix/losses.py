"""The paper's objectives (Table 1): L1, GAN, cGAN, L1+GAN, L1+cGAN, with vanilla or LSGAN loss.

G minimises ``gan(D(x, G(x)), real) + lambda * |y - G(x)|_1`` (the non-saturating form of
maximising log D); D minimises ``0.5 * (gan(D(x, y), real) + gan(D(x, G(x)), fake))``.
"""

from __future__ import annotations

from dataclasses import dataclass

from p2peval.core.registry import Registry
from trainers.common.losses import GAN_LOSSES, gan_loss, l1_loss  # noqa: F401 (used as L.gan_loss, L.l1_loss)


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
