"""The demo's trained rows: one entry per model the demo trains with a bundled trainer.

A ``TrainedRow`` says how to train a model into a run folder (resumably), whether that run is
finished, and how to translate the val labels with it into a results folder named
``<frame id>_leftImg8bit.png``. ``DemoConfig.trained_rows`` lists the rows the demo runs, by name;
a name that is not registered here is refused before any work starts. Adding a trainer's row is
one registration (see docs/demo.md, "Adding a trained row").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from p2peval.core.registry import Registry

if TYPE_CHECKING:  # pragma: no cover
    from trainers.demo import DemoConfig


@dataclass(frozen=True)
class TrainedRow:
    """How the demo makes one trained row."""

    name: str        # folder name, score file stem and study algorithm name
    label: str       # row label in tables and figures
    trainer: str     # the bundled trainer (package under trainers/)
    networks: Callable[[DemoConfig], str]                       # what is trained, in words
    train: Callable[[DemoConfig, Path, Path, bool], None]       # (cfg, data, run, progress)
    command: Callable[[DemoConfig, Path, Path], str]            # (cfg, data, run): the CLI line
    finished: Callable[[Path], bool]                              # run folder -> trained?
    translate: Callable[[DemoConfig, Path, Path, Path, bool], None]  # (cfg, data, run, out, progress)


TRAINED_ROWS: Registry[TrainedRow] = Registry("trained row")


# ---------------------------------------------------------------- pix2pix

def _pix2pix_config(cfg: DemoConfig, data: Path, objective: str):
    """The paper's training config at the demo's size, with the demo's smaller networks."""
    from trainers.ablations import ABLATIONS, variant_config

    losses = ABLATIONS.get("losses")
    variant = next(v for v in losses.variants if v.name == objective)
    overrides = (f"generator.ngf={cfg.gan_filters}", f"discriminator.ndf={cfg.gan_filters}",
                 f"checkpoint_every={cfg.gan_checkpoint_every}", "sample_images=0")
    return variant_config(losses, variant, data, size=cfg.size, steps=cfg.gan_steps,
                          overrides=overrides, device=cfg.device, seed=cfg.seed)


def _pix2pix_networks(objective: str) -> Callable[[DemoConfig], str]:
    def describe(cfg: DemoConfig) -> str:
        d = "no discriminator" if objective == "l1" else f"70x70 PatchGAN with {cfg.gan_filters} filters"
        return (f"pix2pix {objective}: U-Net with {cfg.gan_filters} filters in the first layer "
                f"(the paper: 64), {d}, {cfg.gan_steps} steps of batch 1 at {cfg.size}x{cfg.size}")
    return describe


def _pix2pix_train(objective: str):
    def train(cfg: DemoConfig, data: Path, run: Path, show_progress: bool) -> None:
        from trainers.pix2pix.train import train as train_pix2pix
        train_pix2pix(_pix2pix_config(cfg, data, objective), run, resume=True,
                      show_progress=show_progress)
    return train


def _train_command(trainer: str, default, config, data: Path, run: Path) -> str:
    """The ``p2peval train`` line that makes ``config``: a ``--set`` for every key that differs
    from the trainer's defaults (the dataset is ``--data``)."""
    from trainers.common.config import flatten

    base = flatten(default.to_dict())
    sets = [f"--set {k}={v}" for k, v in flatten(config.to_dict()).items()
            if base.get(k) != v and k != "data.root"]
    return f"p2peval train {trainer} --data {data} --out {run} --resume {' '.join(sets)}"


def _pix2pix_command(objective: str):
    def command(cfg: DemoConfig, data: Path, run: Path) -> str:
        from trainers.pix2pix.config import TrainConfig
        return _train_command("pix2pix", TrainConfig(), _pix2pix_config(cfg, data, objective), data, run)
    return command


def _pix2pix_finished(run: Path) -> bool:
    from trainers.pix2pix.train import GENERATOR
    return (run / GENERATOR).is_file()


def _pix2pix_translate(cfg: DemoConfig, data: Path, run: Path, out: Path, show_progress: bool) -> None:
    from trainers.pix2pix.translate import translate
    translate(run, data, out, split="val", device=cfg.device, seed=cfg.seed,
              show_progress=show_progress)


for _objective, _label in (("l1", "pix2pix L1"), ("l1+cgan", "pix2pix L1+cGAN")):
    TRAINED_ROWS.register(f"pix2pix-{_objective}", TrainedRow(
        f"pix2pix-{_objective}", _label, "pix2pix", _pix2pix_networks(_objective),
        _pix2pix_train(_objective), _pix2pix_command(_objective), _pix2pix_finished,
        _pix2pix_translate))


# ---------------------------------------------------------------- CycleGAN

CYCLEGAN_BLOCKS = 3  # residual blocks (the reference: 6 at 128x128); fewer keep the demo in minutes


def _cyclegan_config(cfg: DemoConfig, data: Path):
    """The CycleGAN paper's training (the ``cyclegan`` variant of ``cyclegan-losses``: both cycles,
    no identity loss) at the demo's size, with the demo's smaller networks."""
    from trainers.ablations import ABLATIONS, variant_config

    losses = ABLATIONS.get("cyclegan-losses")
    variant = next(v for v in losses.variants if v.name == "cyclegan")
    overrides = (f"generator.ngf={cfg.gan_filters}", f"generator.n_blocks={CYCLEGAN_BLOCKS}",
                 f"discriminator.ndf={cfg.gan_filters}", f"checkpoint_every={cfg.gan_checkpoint_every}",
                 "sample_images=0")
    return variant_config(losses, variant, data, size=cfg.size, steps=cfg.gan_steps,
                          overrides=overrides, device=cfg.device, seed=cfg.seed)


def _cyclegan_networks(cfg: DemoConfig) -> str:
    return (f"CycleGAN: two ResNet generators with {cfg.gan_filters} filters and {CYCLEGAN_BLOCKS} residual "
            f"blocks (the paper: 64 and 6 at 128x128), two 70x70 PatchGANs with {cfg.gan_filters} filters, "
            f"{cfg.gan_steps} steps of batch 1 at {cfg.size}x{cfg.size}, unpaired")


def _cyclegan_train(cfg: DemoConfig, data: Path, run: Path, show_progress: bool) -> None:
    from trainers.cyclegan.train import train
    train(_cyclegan_config(cfg, data), run, resume=True, show_progress=show_progress)


def _cyclegan_command(cfg: DemoConfig, data: Path, run: Path) -> str:
    from trainers.cyclegan.config import CycleGANConfig
    return _train_command("cyclegan", CycleGANConfig(), _cyclegan_config(cfg, data), data, run)


def _cyclegan_finished(run: Path) -> bool:
    from trainers.cyclegan.train import GENERATOR
    return (run / GENERATOR).is_file()


def _cyclegan_translate(cfg: DemoConfig, data: Path, run: Path, out: Path, show_progress: bool) -> None:
    from trainers.cyclegan.translate import translate
    translate(run, data, out, direction="AtoB", split="val", device=cfg.device, show_progress=show_progress)


TRAINED_ROWS.register("cyclegan", TrainedRow(
    "cyclegan", "CycleGAN", "cyclegan", _cyclegan_networks, _cyclegan_train, _cyclegan_command,
    _cyclegan_finished, _cyclegan_translate))
