"""The CycleGAN objective (reference ``CycleGANModel.backward_G`` / ``backward_D_basic``).

Generators minimise, with G_A: A -> B judged by D_A and G_B: B -> A judged by D_B,

    gan(D_A(G_A(a)), real) + gan(D_B(G_B(b)), real)
    + lambda_A * |G_B(G_A(a)) - a|_1 + lambda_B * |G_A(G_B(b)) - b|_1             (cycle)
    + lambda_idt * (lambda_B * |G_A(b) - b|_1 + lambda_A * |G_B(a) - a|_1)          (identity)

and each discriminator minimises ``0.5 * (gan(D(real), real) + gan(D(pooled fake), fake))``.
``gan`` is the least-squares loss by default (mean squared error against 1 or 0).
"""

from __future__ import annotations

import torch

from trainers.common.losses import gan_loss, l1_loss


def generator_gan_loss(mode: str, pred_fake: torch.Tensor) -> torch.Tensor:
    """The generator's adversarial term: its fakes judged against the real target."""
    return gan_loss(mode, pred_fake, True)


def cycle_loss(reconstructed: torch.Tensor, real: torch.Tensor, weight: float) -> torch.Tensor:
    """``weight`` x mean |reconstructed - real| (lambda_A for a -> b -> a, lambda_B for b -> a -> b)."""
    return weight * l1_loss(reconstructed, real)


def identity_loss(same: torch.Tensor, real: torch.Tensor, weight: float, lambda_identity: float) -> torch.Tensor:
    """``lambda_identity * weight`` x mean |G(y) - y| for a generator fed its own output domain."""
    return lambda_identity * weight * l1_loss(same, real)


def discriminator_loss(mode: str, pred_real: torch.Tensor, pred_fake: torch.Tensor) -> torch.Tensor:
    """Half the sum of the real and fake terms (the reference halves it to slow D down)."""
    return 0.5 * (gan_loss(mode, pred_real, True) + gan_loss(mode, pred_fake, False))
