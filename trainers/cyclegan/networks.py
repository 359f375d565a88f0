"""The CycleGAN networks of the reference implementation (``models/networks.py``).

``ResnetGenerator`` is the paper's c7s1-64, d128, d256, R256 x N, u128, u64, c7s1-3: reflection
padding, instance norm without affine parameters or running statistics (so every conv carries a
bias), no dropout, tanh output. The discriminator is the shared 70x70 PatchGAN on one image.

With 64 filters and 3 -> 3 channels: 11,378,179 generator parameters with 9 blocks, 7,837,699
with 6; 2,764,737 discriminator parameters; output map 30x30 at 256x256, 14x14 at 128x128.
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from trainers.common.networks import NORMS, PatchDiscriminator, conv_bias


class ResnetBlock(nn.Module):
    """x + [reflect pad 1, conv 3x3, norm, ReLU, reflect pad 1, conv 3x3, norm](x); no ReLU after the sum."""

    def __init__(self, dim: int, norm: str = "instance"):
        super().__init__()
        bias = conv_bias(norm)
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), NORMS.get(norm)(dim), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), NORMS.get(norm)(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, h, w) -> same
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """Two stride-2 downsamplings, ``n_blocks`` residual blocks at 4 * ngf channels, two
    transposed-conv upsamplings (padding 1, output_padding 1): the output has the input's size
    for any multiple of 4."""

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 64, n_blocks: int = 9,
                 norm: str = "instance"):
        super().__init__()
        bias = conv_bias(norm)
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7, bias=bias),
                                   NORMS.get(norm)(ngf), nn.ReLU(True)]
        for i in range(2):  # d128, d256
            c = ngf * 2 ** i
            layers += [nn.Conv2d(c, c * 2, 3, stride=2, padding=1, bias=bias), NORMS.get(norm)(c * 2), nn.ReLU(True)]
        layers += [ResnetBlock(ngf * 4, norm) for _ in range(n_blocks)]
        for i in range(2):  # u128, u64
            c = ngf * 2 ** (2 - i)
            layers += [nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1, bias=bias),
                       NORMS.get(norm)(c // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, Cin, H, W) -> (B, Cout, H, W) in [-1, 1]
        return self.model(x)


def build_generator(input_nc: int, output_nc: int, ngf: int, n_blocks: int, norm: str) -> ResnetGenerator:
    NORMS.get(norm)
    return ResnetGenerator(input_nc, output_nc, ngf, n_blocks, norm)


def build_discriminator(input_nc: int, ndf: int, n_layers: int, norm: str) -> PatchDiscriminator:
    """The PatchGAN on the image alone (no condition): 70x70 patches for ``n_layers`` = 3."""
    NORMS.get(norm)
    return PatchDiscriminator(input_nc, ndf, n_layers, norm)



@functools.cache
def generator_receptive_field(n_blocks: int) -> int:
    """Side (pixels) of the largest input window one output pixel of the ResNet generator depends
    on through its convolutions, measured by gradients.

    The two stride-2 transposed convs make the window depend on the output position modulo 4
    (an even position of a transposed conv reads one input, an odd one two): the largest of the
    four is reported.
    The field depends only on the layers, not on widths or weights: a one-filter copy without norm
    (instance norm would make every pixel depend on the whole image through its statistics), with
    positive weights and input so no ReLU blocks a path, on an input large enough that the
    reflection padding at the border is never reached.
    """
    net = ResnetGenerator(1, 1, ngf=1, n_blocks=n_blocks, norm="none")
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(0.01)
    size = 4 * ((16 * n_blocks + 48) // 2 + 1)
    widest = 0
    for shift in range(4):
        x = torch.ones(1, 1, size, size, requires_grad=True)
        net(x)[0, 0, size // 2 + shift, size // 2 + shift].backward()
        rows = torch.nonzero(x.grad[0, 0].abs().sum(1)).flatten()
        widest = max(widest, int(rows.max() - rows.min() + 1))
    return widest
