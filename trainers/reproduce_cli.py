"""``p2peval reproduce``: run a named end-to-end chain and write everything with a README."""

from p2peval.commands import positive_int

HELP = ("Run a named end-to-end chain: generate toy-city -> train a scorer -> train and translate "
        "every variant -> fcn-score and color-hist -> comparison table and colour plot, with a README "
        "listing the command that made each file. Resumable: finished steps are skipped.")
EXAMPLES = """  p2peval reproduce toycity-smoke --out results/toycity-smoke
  p2peval reproduce toycity-losses --out results/toycity-losses
  p2peval reproduce --list"""


def add_arguments(p):
    p.add_argument("preset", nargs="?", help="preset name (see --list)")
    p.add_argument("--out", help="output folder (default results/<preset>)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--threads", type=positive_int, default=1,
                   help="torch CPU threads (default 1: on a busy machine more threads wait on each other)")
    p.add_argument("--list", action="store_true", help="list the presets and their settings")
    p.add_argument("--quiet", action="store_true", help="no progress bars (step lines still print)")


def run(args):
    import json
    import sys

    from p2peval.core.errors import ConfigError
    from trainers.reproduce import PRESETS, get_preset, run_preset

    if args.list:
        for name in PRESETS.names():
            p = get_preset(name)
            print(f"{name}: {p.description} ({p.budget})")
            print("  " + json.dumps(p.settings()))
        return 0
    if not args.preset:
        raise ConfigError(f"give a preset name; valid choices: {', '.join(PRESETS.names())}")
    get_preset(args.preset)  # unknown names fail before anything is written
    import torch

    torch.set_num_threads(args.threads)
    out = args.out or f"results/{args.preset}"
    command = " ".join(["p2peval", "reproduce", args.preset, "--out", out]
                       + (["--device", args.device] if args.device != "cpu" else []))
    ch = run_preset(args.preset, out, device=args.device, show_progress=not args.quiet, command=command,
                    log=lambda s: print(s, flush=True))
    table = ch.out / "table.md"
    if table.is_file():
        print("\n" + table.read_text())
    print(f"README, table.md, table.tex, color.png and scores/ in {ch.out}", file=sys.stdout)
    return 0
