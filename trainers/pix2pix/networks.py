"""The pix2pix networks: U-Net / encoder-decoder generators and the named PatchGAN / PixelGAN
discriminators of the paper's Table 3 (the discriminators themselves, init, counts and receptive
fields are shared with the other trainers, in ``trainers.common.networks``).

Parameter counts match the reference implementation exactly: a conv followed by BatchNorm has no
bias (the norm's shift replaces it); with InstanceNorm (no affine) or no norm it has one.
"""

from __future__ import annotations

import torch
from torch import nn

from p2peval.core.registry import Registry
from trainers.common.networks import (  # noqa: F401 (re-exported)
    NORMS,
    PatchDiscriminator,
    PixelDiscriminator,
    conv_bias,
    conv_layers,
    count_parameters,
    init_weights,
    output_size,
    receptive_field,
)


class UnetBlock(nn.Module):
    """One level of the U-Net: down (conv 4x4/2), the inner levels, up (transposed conv 4x4/2).

    With ``skip`` the block returns ``cat([x, up(...)])`` (the U-Net); without it the decoder sees
    only the inner output (the paper's encoder-decoder).
    """

    def __init__(self, outer_nc: int, inner_nc: int, input_nc: int | None = None,
                 submodule: nn.Module | None = None, outermost: bool = False,
                 innermost: bool = False, norm: str = "batch", dropout: float = 0.0,
                 skip: bool = True):
        super().__init__()
        self.outermost, self.skip = outermost, skip
        input_nc = outer_nc if input_nc is None else input_nc
        bias = conv_bias(norm)
        # The inner output has inner_nc channels plus the skip (inner_nc) except at the innermost.
        up_in = inner_nc if innermost or not skip else inner_nc * 2
        downconv = nn.Conv2d(input_nc, inner_nc, 4, stride=2, padding=1, bias=bias)
        if outermost:
            upconv = nn.ConvTranspose2d(up_in, outer_nc, 4, stride=2, padding=1)
            layers = [downconv, submodule, nn.ReLU(True), upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.ConvTranspose2d(up_in, outer_nc, 4, stride=2, padding=1, bias=bias)
            layers = [nn.LeakyReLU(0.2, True), downconv, nn.ReLU(True), upconv, NORMS.get(norm)(outer_nc)]
        else:
            upconv = nn.ConvTranspose2d(up_in, outer_nc, 4, stride=2, padding=1, bias=bias)
            layers = [nn.LeakyReLU(0.2, True), downconv, NORMS.get(norm)(inner_nc), submodule,
                      nn.ReLU(True), upconv, NORMS.get(norm)(outer_nc)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.model(x)
        if self.outermost or not self.skip:
            return y
        return torch.cat([x, y], 1)


class UnetGenerator(nn.Module):
    """U-Net with ``num_downs`` downsamplings (8 for 256x256: the 1x1 bottleneck).

    Encoder C64-C128-C256-C512-C512-C512-C512-C512; the ``num_downs - 5`` innermost-but-one
    decoder blocks use dropout 0.5 (three for U-Net 256). ``skip=False`` gives the encoder-decoder.
    """

    def __init__(self, input_nc: int = 3, output_nc: int = 3, num_downs: int = 8, ngf: int = 64,
                 norm: str = "batch", dropout: float = 0.5, skip: bool = True):
        super().__init__()
        if num_downs < 5:
            raise ValueError(f"num_downs must be >= 5, got {num_downs}")
        self.num_downs = num_downs
        kw = dict(norm=norm, skip=skip)
        block = UnetBlock(ngf * 8, ngf * 8, innermost=True, **kw)
        for _ in range(num_downs - 5):
            block = UnetBlock(ngf * 8, ngf * 8, submodule=block, dropout=dropout, **kw)
        block = UnetBlock(ngf * 4, ngf * 8, submodule=block, **kw)
        block = UnetBlock(ngf * 2, ngf * 4, submodule=block, **kw)
        block = UnetBlock(ngf, ngf * 2, submodule=block, **kw)
        self.model = UnetBlock(output_nc, ngf, input_nc=input_nc, submodule=block, outermost=True, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, Cin, H, W) -> (B, Cout, H, W)
        return self.model(x)


# Named discriminators of the paper's Table 3; "nlayers" (any depth) is chosen by n_layers.
DISCRIMINATORS: Registry = Registry("discriminator")
DISCRIMINATORS.register("pixel", 0)  # 0: the 1x1 PixelGAN
DISCRIMINATORS.register("patch16", 1)
DISCRIMINATORS.register("patch70", 3)
DISCRIMINATORS.register("patch286", 5)
DISCRIMINATORS.register("nlayers", -1)

GENERATORS: Registry = Registry("generator")
GENERATORS.register("unet", True)
GENERATORS.register("encoder-decoder", False)


def build_generator(arch: str, input_nc: int, output_nc: int, num_downs: int, ngf: int, norm: str,
                    dropout: float) -> UnetGenerator:
    """U-Net (``unet``) or encoder-decoder (``encoder-decoder``) generator."""
    skip = GENERATORS.get(arch)
    NORMS.get(norm)
    return UnetGenerator(input_nc, output_nc, num_downs, ngf, norm, dropout, skip)


def build_discriminator(arch: str, input_nc: int, ndf: int, norm: str, n_layers: int = 3) -> nn.Module:
    """A named discriminator (``pixel``, ``patch16``, ``patch70``, ``patch286``) or ``nlayers``."""
    depth = DISCRIMINATORS.get(arch)
    NORMS.get(norm)
    if depth == 0:
        return PixelDiscriminator(input_nc, ndf, norm)
    return PatchDiscriminator(input_nc, ndf, n_layers if depth == -1 else depth, norm)
