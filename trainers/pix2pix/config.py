"""Typed configuration of a pix2pix run: one small dataclass per component, saved as
``RUN/config.json`` next to every checkpoint.

Overrides use dotted keys (``generator.ngf=32``), are converted to the field's type and refuse
unknown keys with the list of valid ones. Files may be JSON or TOML with the same nesting.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path

from p2peval.core.errors import ConfigError
from trainers.common import config as _common


@dataclass
class DataConfig:
    """Where the pairs come from and how they are jittered."""
    root: str = ""                    # dataset folder (pix2pix A|B folder, Cityscapes root, toy-city OUT)
    layout: str = "auto"              # auto | pix2pix | cityscapes | images (single images, colorization)
    direction: str = "AtoB"           # AtoB | BtoA; Cityscapes native: A = colour label, B = photo
    mode: str = "rgb"                 # rgb | colorization (L -> ab in Lab)
    preprocess: str = "resize_and_crop"  # resize_and_crop | resize (to crop_size, no crop)
    load_size: int = 286              # resize side before the random crop
    crop_size: int = 256              # training image side
    flip: bool = True                 # random horizontal mirror
    batch_size: int = 1               # global batch (split over processes under torchrun)
    workers: int = 0                  # DataLoader worker processes
    split: str = "train"
    max_images: int | None = None     # use only the first N pairs (sorted), e.g. for CI runs


@dataclass
class GeneratorConfig:
    arch: str = "unet"                # unet | encoder-decoder
    ngf: int = 64
    num_downs: int | None = None      # None: log2(crop_size) (256 -> 8, 128 -> 7, 64 -> 6)
    norm: str = "batch"               # batch | instance | none
    dropout: float = 0.5              # on the num_downs - 5 inner decoder blocks


@dataclass
class DiscriminatorConfig:
    arch: str = "patch70"             # pixel | patch16 | patch70 | patch286 | nlayers
    ndf: int = 64
    n_layers: int = 3                 # depth when arch = nlayers
    norm: str = "batch"


@dataclass
class LossConfig:
    objective: str = "l1+cgan"        # l1 | gan | cgan | l1+gan | l1+cgan
    lambda_l1: float = 100.0
    gan_mode: str = "vanilla"         # vanilla (BCE with logits) | lsgan (least squares)


@dataclass
class OptimConfig:
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    schedule: str = "linear"          # constant | linear (constant, then linear decay to 0)
    decay_fraction: float = 0.5       # linear: share of the run spent decaying (the paper: 100 + 100 epochs)


@dataclass
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    epochs: int = 200
    steps: int | None = None          # total iterations; overrides epochs when set
    seed: int = 0
    device: str = "auto"              # auto | cpu | cuda | cuda:N
    precision: str = "fp32"           # fp32 | bf16 (autocast)
    channels_last: bool = False
    checkpoint_every: int = 1000      # steps between checkpoints (and one at the end)
    sample_images: int = 4            # rows in the per-epoch sample grid

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


CHOICES = {
    "data.layout": ("auto", "pix2pix", "cityscapes", "images"),
    "data.direction": ("AtoB", "BtoA"),
    "data.mode": ("rgb", "colorization"),
    "data.preprocess": ("resize_and_crop", "resize"),
    "generator.arch": ("unet", "encoder-decoder"),
    "generator.norm": ("batch", "instance", "none"),
    "discriminator.arch": ("pixel", "patch16", "patch70", "patch286", "nlayers"),
    "discriminator.norm": ("batch", "instance", "none"),
    "loss.objective": ("l1", "gan", "cgan", "l1+gan", "l1+cgan"),
    "loss.gan_mode": ("vanilla", "lsgan"),
    "optim.schedule": ("constant", "linear"),
    "precision": ("fp32", "bf16"),
}


def apply_overrides(config: TrainConfig, overrides: typing.Iterable[str]) -> TrainConfig:
    """Apply ``key=value`` strings (dotted keys) in place, with type checking; returns config."""
    return _common.apply_overrides(config, overrides)


def config_from_dict(d: dict) -> TrainConfig:
    """A config from a (possibly partial) nested dict; unknown keys are refused."""
    return _common.config_from_dict(TrainConfig, d)


def load_config(path: str | Path) -> TrainConfig:
    """Read a JSON or TOML config file (by suffix; ``.toml`` is TOML, anything else JSON)."""
    return _common.load_config(TrainConfig, path)


def validate(config: TrainConfig) -> TrainConfig:
    """Check choices and ranges; fill ``generator.num_downs`` from the crop size when unset."""
    _common.check_choices(config, CHOICES)
    d, g = config.data, config.generator
    _common.check_positive((("data.crop_size", d.crop_size), ("data.load_size", d.load_size),
                            ("data.batch_size", d.batch_size), ("generator.ngf", g.ngf),
                            ("discriminator.ndf", config.discriminator.ndf),
                            ("discriminator.n_layers", config.discriminator.n_layers),
                            ("epochs", config.epochs), ("checkpoint_every", config.checkpoint_every)))
    if d.preprocess == "resize_and_crop" and d.load_size < d.crop_size:
        raise ConfigError(f"data.load_size ({d.load_size}) must be >= data.crop_size ({d.crop_size})")
    if config.steps is not None and config.steps < 1:
        raise ConfigError(f"steps: must be >= 1, got {config.steps}")
    if d.max_images is not None and d.max_images < 1:
        raise ConfigError(f"data.max_images: must be >= 1, got {d.max_images}")
    if not 0.0 <= g.dropout < 1.0:
        raise ConfigError(f"generator.dropout: must be in [0, 1), got {g.dropout}")
    if not 0.0 <= config.optim.decay_fraction <= 1.0:
        raise ConfigError(f"optim.decay_fraction: must be in [0, 1], got {config.optim.decay_fraction}")
    if config.optim.lr <= 0:
        raise ConfigError(f"optim.lr: must be > 0, got {config.optim.lr}")
    if g.num_downs is None:
        n = int(round(math.log2(d.crop_size)))
        if 2 ** n != d.crop_size:
            raise ConfigError(f"data.crop_size {d.crop_size} is not a power of two; set "
                              f"generator.num_downs explicitly (crop_size must be a multiple of 2^num_downs)")
        g.num_downs = n
    if g.num_downs < 5:
        raise ConfigError(f"generator.num_downs: must be >= 5, got {g.num_downs} (crop_size >= 32)")
    if d.crop_size % (2 ** g.num_downs):
        raise ConfigError(f"data.crop_size {d.crop_size} must be a multiple of 2^generator.num_downs "
                          f"= {2 ** g.num_downs}")
    return config


def channels(config: TrainConfig) -> tuple[int, int]:
    """(input, output) channels of the generator: 3 -> 3, or 1 -> 2 in colorization mode."""
    return (1, 2) if config.data.mode == "colorization" else (3, 3)


def save_config(config: TrainConfig, path: str | Path) -> Path:
    return _common.save_config(config, path)
