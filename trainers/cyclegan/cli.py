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


def add_arguments(p) -> None:
    p.add_argument("--data", help="dataset: trainA/trainB folder, pix2pix A|B folder (read unpaired), "
                                  "Cityscapes root or toy-city folder")
    p.add_argument("--out", help="run folder (config.json, checkpoint.pt, losses.csv, samples/, generator.pt)")
    p.add_argument("--config", help="config file (JSON or TOML, nested like RUN/config.json)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set generator.n_blocks=6 (repeatable)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument("--describe", action="store_true",
                   help="print the networks' parameter counts, receptive field and output map as JSON; no training")
    p.add_argument("--device", help="shortcut for --set device=... (auto, cpu, cuda)")
    p.add_argument("--precision", choices=["fp32", "bf16"], help="shortcut for --set precision=...")
    p.add_argument("--channels-last", action="store_true", help="shortcut for --set channels_last=true")
    p.add_argument("--quiet", action="store_true", help="no progress output")


def build_config(args):
    """Config from (saved run config when resuming |) --config file, then --data and --set."""
    from pathlib import Path

    from trainers.cyclegan.config import CycleGANConfig, apply_overrides, load_config

    if args.config:
        config = load_config(args.config)
    elif args.resume and args.out and (Path(args.out) / "config.json").is_file():
        from trainers.cyclegan.train import read_config
        config = read_config(Path(args.out))
    else:
        config = CycleGANConfig()
    sets = list(args.set)
    if args.data:
        sets.insert(0, f"data.root={args.data}")
    for flag, key in ((args.device, "device"), (args.precision, "precision")):
        if flag:
            sets.append(f"{key}={flag}")
    if args.channels_last:
        sets.append("channels_last=true")
    return apply_overrides(config, sets)


def run(args) -> int:
    import json
    import os
    from pathlib import Path

    from p2peval.core.errors import ConfigError

    config = build_config(args)
    if args.describe:
        from trainers.cyclegan.describe import describe
        print(json.dumps(describe(config), indent=2))
        return 0
    if not args.out:
        raise ConfigError("--out RUN is required to train")
    if not config.data.root:
        raise ConfigError("--data DIR is required to train")
    from trainers.cyclegan.train import train
    out = train(config, Path(args.out), resume=args.resume, show_progress=not args.quiet)
    if os.environ.get("RANK", "0") == "0":
        print(f"run folder: {out}")
    return 0
