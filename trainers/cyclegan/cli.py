"""``p2peval train cyclegan``: train CycleGAN (unpaired) into a run folder."""

from __future__ import annotations

HELP = ("Train CycleGAN on two unpaired domains. The typed config (defaults: the reference "
        "implementation, 256x256, ResNet generator with 9 blocks, 70x70 PatchGAN, LSGAN, cycle 10, "
        "identity 0.5, pools of 50, Adam 2e-4, 100 + 100 epochs) is saved as RUN/config.json; "
        "checkpoints (with pools and RNG state) allow --resume. Keys: data.*, generator.*, "
        "discriminator.*, loss.*, optim.*, steps, seed, device, precision, channels_last, "
        "checkpoint_every, sample_images.")
EXAMPLES = """  p2peval train cyclegan --data datasets/horse2zebra --out runs/h2z
  p2peval train cyclegan --data data/toy --out runs/toy --set data.crop_size=128 --set data.load_size=143 --set generator.n_blocks=6
  p2peval train cyclegan --out runs/toy --resume
  p2peval train cyclegan --describe --set generator.n_blocks=6 --set data.crop_size=128
  torchrun --nproc-per-node 2 -m p2peval train cyclegan --data data/toy --out runs/ddp --set data.batch_size=2"""



def _command():
    from trainers.common.cli import TrainerCommand
    from trainers.cyclegan.config import CycleGANConfig, apply_overrides, load_config
    from trainers.cyclegan.describe import describe
    from trainers.cyclegan.train import read_config, train
    return TrainerCommand(CycleGANConfig, apply_overrides, load_config, read_config, describe, train)


def add_arguments(p) -> None:
    from trainers.common.cli import add_arguments as add
    add(p, data_help="dataset: trainA/trainB folder, pix2pix A|B folder (read unpaired), Cityscapes root or toy-city folder",
        set_example="generator.n_blocks=6")


def run(args) -> int:
    from trainers.common.cli import run as run_training
    return run_training(args, _command())
