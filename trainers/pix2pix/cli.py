"""``p2peval train pix2pix``: train a pix2pix generator (any objective, generator and
discriminator of the paper) into a run folder."""

from __future__ import annotations

HELP = ("Train pix2pix. The typed config (defaults: the paper's Cityscapes setup, U-Net 256, 70x70 "
        "PatchGAN, L1+cGAN, lambda 100, Adam 2e-4) is saved as RUN/config.json; checkpoints allow "
        "--resume. Keys: data.*, generator.*, discriminator.*, loss.*, optim.*, epochs, steps, seed, "
        "device, precision, channels_last, checkpoint_every, sample_images.")
EXAMPLES = """  p2peval train pix2pix --data data/toy --out runs/l1cgan --set steps=2000
  p2peval train pix2pix --data datasets/facades --set data.direction=BtoA --out runs/facades
  p2peval train pix2pix --out runs/l1cgan --data data/toy --resume
  p2peval train pix2pix --describe --set discriminator.arch=patch286
  torchrun --nproc-per-node 2 -m p2peval train pix2pix --data data/toy --out runs/ddp --set data.batch_size=4"""



def _command():
    from trainers.common.cli import TrainerCommand
    from trainers.pix2pix.config import TrainConfig, apply_overrides, load_config
    from trainers.pix2pix.describe import describe
    from trainers.pix2pix.train import read_config, train
    return TrainerCommand(TrainConfig, apply_overrides, load_config, read_config, describe, train)


def add_arguments(p) -> None:
    from trainers.common.cli import add_arguments as add
    add(p, data_help="dataset: pix2pix A|B folder (DIR/train/*.png), Cityscapes root or toy-city folder",
        set_example="generator.ngf=32")


def run(args) -> int:
    from trainers.common.cli import run as run_training
    return run_training(args, _command())
