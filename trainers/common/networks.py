"""Network parts both trainers use: norm layers, the PatchGAN / PixelGAN discriminators, the
paper's N(0, 0.02) init, parameter counts, receptive fields and output map sizes.

A conv followed by BatchNorm has no bias (the norm's shift replaces it); with InstanceNorm (no
affine) or no norm it has one, as in the reference implementation.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from p2peval.core.registry import Registry

NORMS: Registry = Registry("norm layer")
NORMS.register("batch", lambda c: nn.BatchNorm2d(c, affine=True, track_running_stats=True))
NORMS.register("instance", lambda c: nn.InstanceNorm2d(c, affine=False, track_running_stats=False))
NORMS.register("none", lambda c: nn.Identity())


def conv_bias(norm: str) -> bool:
    """Convs followed by BatchNorm carry no bias (its shift makes one redundant)."""
    return norm != "batch"


class PatchDiscriminator(nn.Module):
    """PatchGAN: ``n_layers`` stride-2 4x4 convs (C64-C128-...), one stride-1 conv, and a
    stride-1 conv to one logit per patch. n_layers 1 -> 16x16, 3 -> 70x70, 5 -> 286x286 patches.
    """

    def __init__(self, input_nc: int = 6, ndf: int = 64, n_layers: int = 3, norm: str = "batch"):
        super().__init__()
        bias = conv_bias(norm)
        layers: list[nn.Module] = [nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2 ** n, 8)
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=2, padding=1, bias=bias),
                       NORMS.get(norm)(ndf * mult), nn.LeakyReLU(0.2, True)]
        prev, mult = mult, min(2 ** n_layers, 8)
        layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=1, padding=1, bias=bias),
                   NORMS.get(norm)(ndf * mult), nn.LeakyReLU(0.2, True),
                   nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, 1, h, w) logits
        return self.model(x)


class PixelDiscriminator(nn.Module):
    """PixelGAN (1x1 receptive field): three 1x1 convs, one logit per pixel."""

    def __init__(self, input_nc: int = 6, ndf: int = 64, norm: str = "batch"):
        super().__init__()
        bias = conv_bias(norm)
        self.model = nn.Sequential(
            nn.Conv2d(input_nc, ndf, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, 1, bias=bias), NORMS.get(norm)(ndf * 2), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 2, 1, 1, bias=bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, 1, H, W) logits
        return self.model(x)


def init_weights(net: nn.Module, gain: float = 0.02) -> None:
    """The paper's init: conv weights N(0, 0.02), biases 0; BatchNorm weights N(1, 0.02), bias 0."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def conv_layers(net: nn.Module) -> list[tuple[int, int, int]]:
    """(kernel, stride, padding) of every conv on the discriminator's path, in order."""
    return [(m.kernel_size[0], m.stride[0], m.padding[0]) for m in net.modules() if isinstance(m, nn.Conv2d)]


def receptive_field(net: nn.Module) -> int:
    """Receptive field (pixels, one side) of a sequential conv stack, from its layers:
    r <- r + (k - 1) * j, j <- j * s, starting from r = 1, j = 1."""
    r, j = 1, 1
    for k, s, _ in conv_layers(net):
        r += (k - 1) * j
        j *= s
    return r


def output_size(net: nn.Module, size: int) -> int:
    """Side of a conv stack's output map for a ``size`` x ``size`` input: floor((n + 2p - k)/s) + 1."""
    n = size
    for k, s, p in conv_layers(net):
        n = math.floor((n + 2 * p - k) / s) + 1
    return n
