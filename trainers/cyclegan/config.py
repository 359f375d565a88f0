"""Typed configuration of a CycleGAN run, saved as ``RUN/config.json`` (with ``"trainer":
"cyclegan"``, which tells its run folders from pix2pix ones).

Defaults are the reference implementation's (256x256, 9 residual blocks, LSGAN, cycle weight 10 in
both directions, identity 0.5, pools of 50, Adam 2e-4 / 0.5, 100 + 100 epochs). The paper's
Cityscapes setting is ``data.crop_size=128 data.load_size=143 generator.n_blocks=6``.
Overrides use dotted keys (``generator.n_blocks=6``), as for pix2pix.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path

from p2peval.core.errors import ConfigError
from trainers.common import config as _common


@dataclass
class DataConfig:
    """Where the two domains come from and how each image is jittered."""
    root: str = ""                    # trainA/trainB/testA/testB folder, pix2pix A|B folder, Cityscapes root, toy-city OUT
    layout: str = "auto"              # auto | unaligned | pix2pix (A|B pairs read unpaired) | cityscapes (A = colour label, B = photo)
    preprocess: str = "resize_and_crop"  # resize_and_crop | resize (to crop_size, no crop)
    load_size: int = 286              # resize side before the random crop (143 for crop 128)
    crop_size: int = 256              # training image side
    flip: bool = True                 # random horizontal mirror (each domain on its own)
    channels_A: int = 3               # 3 = RGB, 1 = greyscale
    channels_B: int = 3
    batch_size: int = 1               # global batch (split over processes under torchrun)
    workers: int = 0                  # DataLoader worker processes
    split: str = "train"              # training split (unaligned layout: <split>A/, <split>B/)
    max_images: int | None = None     # use only the first N images of each domain (sorted)


@dataclass
class GeneratorConfig:
    ngf: int = 64
    n_blocks: int = 9                 # residual blocks: 9 at 256x256, 6 at 128x128
    norm: str = "instance"            # instance (no affine, no running statistics) | batch | none


@dataclass
class DiscriminatorConfig:
    ndf: int = 64
    n_layers: int = 3                 # 3: the 70x70 PatchGAN
    norm: str = "instance"


@dataclass
class LossConfig:
    gan: bool = True                  # adversarial terms (false: cycle losses alone, no discriminators)
    gan_mode: str = "lsgan"           # lsgan (least squares) | vanilla (BCE with logits)
    lambda_A: float = 10.0            # forward cycle |G_B(G_A(a)) - a|_1
    lambda_B: float = 10.0            # backward cycle |G_A(G_B(b)) - b|_1
    lambda_identity: float = 0.5      # identity weight, relative to lambda_A / lambda_B; 0 turns it off
    pool_size: int = 50               # fakes kept for each discriminator; 0: no pool


@dataclass
class OptimConfig:
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    schedule: str = "linear"          # linear (constant, then the reference's linear decay) | constant
    n_epochs: int = 100               # epochs at the initial rate
    n_epochs_decay: int = 100         # epochs of linear decay


@dataclass
class CycleGANConfig:
    trainer: str = "cyclegan"
    data: DataConfig = field(default_factory=DataConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    steps: int | None = None          # total iterations instead of epochs: the schedule then counts
                                      # iterations (steps - steps // 2 constant, steps // 2 decaying)
    seed: int = 0
    device: str = "auto"              # auto | cpu | cuda | cuda:N
    precision: str = "fp32"           # fp32 | bf16 (autocast)
    channels_last: bool = False
    checkpoint_every: int = 1000      # steps between checkpoints (and one at the end)
    sample_images: int = 4            # rows in the per-epoch sample grid

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


CHOICES = {
    "trainer": ("cyclegan",),
    "data.layout": ("auto", "unaligned", "pix2pix", "cityscapes"),
    "data.preprocess": ("resize_and_crop", "resize"),
    "generator.norm": ("instance", "batch", "none"),
    "discriminator.norm": ("instance", "batch", "none"),
    "loss.gan_mode": ("lsgan", "vanilla"),
    "optim.schedule": ("linear", "constant"),
    "precision": ("fp32", "bf16"),
}


def apply_overrides(config: CycleGANConfig, overrides: typing.Iterable[str]) -> CycleGANConfig:
    """Apply ``key=value`` strings (dotted keys) in place, with type checking; returns config."""
    return _common.apply_overrides(config, overrides)


def config_from_dict(d: dict) -> CycleGANConfig:
    """A config from a (possibly partial) nested dict; unknown keys are refused."""
    return _common.config_from_dict(CycleGANConfig, d)


def load_config(path: str | Path) -> CycleGANConfig:
    """Read a JSON or TOML config file (by suffix; ``.toml`` is TOML, anything else JSON)."""
    return _common.load_config(CycleGANConfig, path)


def validate(config: CycleGANConfig) -> CycleGANConfig:
    """Check choices, ranges and the identity loss's channel condition; returns config."""
    _common.check_choices(config, CHOICES)
    d, g, l, o = config.data, config.generator, config.loss, config.optim
    _common.check_positive((("data.crop_size", d.crop_size), ("data.load_size", d.load_size),
                            ("data.batch_size", d.batch_size), ("generator.ngf", g.ngf),
                            ("generator.n_blocks", g.n_blocks), ("discriminator.ndf", config.discriminator.ndf),
                            ("discriminator.n_layers", config.discriminator.n_layers),
                            ("checkpoint_every", config.checkpoint_every)))
    for key, c in (("data.channels_A", d.channels_A), ("data.channels_B", d.channels_B)):
        if c not in (1, 3):
            raise ConfigError(f"{key}: must be 1 (greyscale) or 3 (RGB), got {c}")
    if d.crop_size % 4:
        raise ConfigError(f"data.crop_size {d.crop_size} must be a multiple of 4 (two stride-2 convs "
                          "down and two up)")
    if d.preprocess == "resize_and_crop" and d.load_size < d.crop_size:
        raise ConfigError(f"data.load_size ({d.load_size}) must be >= data.crop_size ({d.crop_size})")
    if config.steps is not None and config.steps < 1:
        raise ConfigError(f"steps: must be >= 1, got {config.steps}")
    if d.max_images is not None and d.max_images < 1:
        raise ConfigError(f"data.max_images: must be >= 1, got {d.max_images}")
    if o.n_epochs < 0 or o.n_epochs_decay < 0 or o.n_epochs + o.n_epochs_decay < 1:
        raise ConfigError(f"optim.n_epochs ({o.n_epochs}) and optim.n_epochs_decay ({o.n_epochs_decay}) "
                          "must be >= 0 with at least one epoch in all")
    if o.lr <= 0:
        raise ConfigError(f"optim.lr: must be > 0, got {o.lr}")
    for key, v in (("loss.lambda_A", l.lambda_A), ("loss.lambda_B", l.lambda_B),
                   ("loss.lambda_identity", l.lambda_identity)):
        if v < 0:
            raise ConfigError(f"{key}: must be >= 0, got {v}")
    if l.pool_size < 0:
        raise ConfigError(f"loss.pool_size: must be >= 0, got {l.pool_size}")
    if l.lambda_identity > 0 and d.channels_A != d.channels_B:
        # G_A (A -> B) is fed B images for the identity term: it needs as many channels as it makes.
        raise ConfigError(f"loss.lambda_identity={l.lambda_identity}: the identity loss feeds each generator "
                          f"images of its output domain, which needs equal channel counts "
                          f"(data.channels_A={d.channels_A}, data.channels_B={d.channels_B}); "
                          "set loss.lambda_identity=0")
    if not l.gan and l.lambda_A == 0 and l.lambda_B == 0:
        raise ConfigError("loss: no term left to train (loss.gan=false and both cycle weights 0)")
    return config


def save_config(config: CycleGANConfig, path: str | Path) -> Path:
    return _common.save_config(config, path)
