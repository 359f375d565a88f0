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


def add_arguments(p) -> None:
    p.add_argument("--data", help="dataset: pix2pix A|B folder (DIR/train/*.png), Cityscapes root or toy-city folder")
    p.add_argument("--out", help="run folder (config.json, checkpoint.pt, losses.csv, samples/, generator.pt)")
    p.add_argument("--config", help="config file (JSON or TOML, nested like RUN/config.json)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set generator.ngf=32 (repeatable)")
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

    from trainers.pix2pix.config import TrainConfig, apply_overrides, load_config

    if args.config:
        config = load_config(args.config)
    elif args.resume and args.out and (Path(args.out) / "config.json").is_file():
        from trainers.pix2pix.train import read_config
        config = read_config(Path(args.out))
    else:
        config = TrainConfig()
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
    from pathlib import Path

    from p2peval.core.errors import ConfigError

    config = build_config(args)
    if args.describe:
        from trainers.pix2pix.describe import describe
        print(json.dumps(describe(config), indent=2))
        return 0
    if not args.out:
        raise ConfigError("--out RUN is required to train")
    if not config.data.root:
        raise ConfigError("--data DIR is required to train")
    from trainers.pix2pix.train import train
    import os
    out = train(config, Path(args.out), resume=args.resume, show_progress=not args.quiet)
    if os.environ.get("RANK", "0") == "0":
        print(f"run folder: {out}")
    return 0
