"""The ``p2peval train <trainer>`` command, shared by the bundled trainers.

Each trainer's ``cli`` module keeps its own help text and examples and names its pieces in a
``TrainerCommand``: the default config, how to apply ``--set`` overrides, read a config file or a
run's saved config, describe the networks, and train.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TrainerCommand:
    default_config: Callable[[], object]
    apply_overrides: Callable[[object, list[str]], object]
    load_config: Callable[[str], object]       # --config FILE
    read_config: Callable[[Path], object]      # RUN/config.json, when resuming
    describe: Callable[[object], dict]
    train: Callable[..., Path]                 # (config, out, resume=, show_progress=)


def add_arguments(p, *, data_help: str, set_example: str) -> None:
    p.add_argument("--data", help=data_help)
    p.add_argument("--out", help="run folder (config.json, checkpoint.pt, losses.csv, samples/, generator.pt)")
    p.add_argument("--config", help="config file (JSON or TOML, nested like RUN/config.json)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help=f"override a config key, e.g. --set {set_example} (repeatable)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument("--describe", action="store_true",
                   help="print the networks' parameter counts, receptive field and output map as JSON; no training")
    p.add_argument("--device", help="shortcut for --set device=... (auto, cpu, cuda)")
    p.add_argument("--precision", choices=["fp32", "bf16"], help="shortcut for --set precision=...")
    p.add_argument("--channels-last", action="store_true", help="shortcut for --set channels_last=true")
    p.add_argument("--quiet", action="store_true", help="no progress output")


def build_config(args, trainer: TrainerCommand):
    """Config from (saved run config when resuming |) --config file, then --data and --set."""
    if args.config:
        config = trainer.load_config(args.config)
    elif args.resume and args.out and (Path(args.out) / "config.json").is_file():
        config = trainer.read_config(Path(args.out))
    else:
        config = trainer.default_config()
    sets = list(args.set)
    if args.data:
        sets.insert(0, f"data.root={args.data}")
    for flag, key in ((args.device, "device"), (args.precision, "precision")):
        if flag:
            sets.append(f"{key}={flag}")
    if args.channels_last:
        sets.append("channels_last=true")
    return trainer.apply_overrides(config, sets)


def run(args, trainer: TrainerCommand) -> int:
    import json
    import os

    from p2peval.core.errors import ConfigError

    config = build_config(args, trainer)
    if args.describe:
        print(json.dumps(trainer.describe(config), indent=2))
        return 0
    if not args.out:
        raise ConfigError("--out RUN is required to train")
    if not config.data.root:
        raise ConfigError("--data DIR is required to train")
    out = trainer.train(config, Path(args.out), resume=args.resume, show_progress=not args.quiet)
    if os.environ.get("RANK", "0") == "0":
        print(f"run folder: {out}")
    return 0
