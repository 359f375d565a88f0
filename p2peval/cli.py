"""The ``p2peval`` command: a thin dispatcher over library functions.

Commands live in their own modules, each exposing ``HELP`` (one line), ``EXAMPLES`` (text),
``add_arguments(parser)`` and ``run(args) -> int | None``. Only the chosen command's module is
imported, so ``p2peval --help`` is instant and ``p2peval`` never imports ``trainers`` or
``studies`` unless one of their commands is run. Command modules keep heavy imports (torch)
inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from p2peval.core.errors import P2PError

# command path -> (module, one-line help). Groups are the first word of multi-word paths.
COMMANDS: dict[tuple[str, ...], tuple[str, str]] = {
    ("fcn-score",): ("p2peval.commands.fcn_score", "FCN-score (pixel acc, class acc, IoU) of generated Cityscapes photos"),
    ("label-score",): ("p2peval.commands.label_score", "score predicted label maps (photo -> labels) against ground truth"),
    ("segment",): ("p2peval.commands.segment", "write what a scorer sees: predicted labels (and raw scores) per image"),
    ("protocols",): ("p2peval.commands.protocols", "list the named evaluation protocols and their settings"),
    ("color-hist",): ("p2peval.commands.color_hist", "Lab colour-distribution histogram intersection with a reference set"),
    ("table",): ("p2peval.commands.table", "comparison table from score files (md, latex, csv, html)"),
    ("reproduce",): ("trainers.reproduce_cli", "run a named end-to-end chain: data -> train -> translate -> scores -> table"),
    ("report",): ("p2peval.commands.report", "one self-contained HTML report comparing score files by eye"),
    ("demo",): ("trainers.demo_cli", "the main job on toy-city: data, scorer, GANs, every metric, table, report, study"),
    ("translate",): ("trainers.translate_cli", "run a trained generator (pix2pix or CycleGAN) over a dataset, write a results folder"),
    ("data", "toycity"): ("p2peval.commands.data_toycity", "generate the synthetic toy-city street-scene dataset"),
    ("data", "cityscapes"): ("p2peval.commands.data_cityscapes", "prepare pix2pix pairs and the ground-truth results folder from Cityscapes"),
    ("scorer", "train"): ("p2peval.commands.scorer_train", "train a segmentation scorer the way the reference FCN-8s was trained"),
    ("scorer", "import-caffe"): ("p2peval.commands.scorer_import_caffe", "convert the reference Caffe FCN-8s model file to a p2peval checkpoint"),
    ("scorer", "info"): ("p2peval.commands.scorer_info", "show a scorer checkpoint's metadata and verify its weights"),
    ("scorer", "list"): ("p2peval.commands.scorer_list", "list the scorer architectures"),
    ("train", "pix2pix"): ("trainers.pix2pix.cli", "train pix2pix (any loss, generator, discriminator of the paper)"),
    ("train", "cyclegan"): ("trainers.cyclegan.cli", "train CycleGAN on two unpaired domains"),
    ("ablation", "list"): ("trainers.ablations_cli", "list the paper's ablation sets"),
    ("ablation", "run"): ("trainers.ablations_cli", "train, translate and score every variant of an ablation set"),
    ("study", "init"): ("studies.cli", "write a complete, checked study file from results folders"),
    ("study", "serve"): ("studies.cli", "run the real-vs-fake perceptual study web app"),
    ("study", "analyze"): ("studies.cli", "analyse study answers: % labeled real with bootstrap errors"),
    ("study", "export"): ("studies.cli", "export study answers as CSV"),
    ("study", "simulate"): ("studies.cli", "write synthetic answers; power estimate"),
    ("bench", "fcn-score"): ("p2peval.commands.bench_fcn_score", "benchmark fcn-score: end-to-end vs forward-only images/s"),
    ("bench", "import-caffe"): ("p2peval.commands.bench_import_caffe", "benchmark the Caffe import: time and peak memory"),
    ("bench", "color-hist"): ("p2peval.commands.bench_color_hist", "benchmark color-hist: megapixels/s end to end vs decoding"),
    ("bench", "train-step"): ("trainers.bench_cli", "benchmark a pix2pix or CycleGAN training iteration"),
}

PROG = "p2peval"


def _groups() -> dict[str, list[tuple[tuple[str, ...], str]]]:
    groups: dict[str, list] = {}
    for path, (_, helptext) in COMMANDS.items():
        groups.setdefault(path[0], []).append((path, helptext))
    return groups


def _top_help() -> str:
    lines = [f"usage: {PROG} COMMAND [options]   ({PROG} COMMAND --help for details and an example)",
             "", "Evaluation and benchmarking for image-to-image translation (pix2pix and descendants).",
             "", "commands:"]
    for path, (_, helptext) in COMMANDS.items():
        lines.append(f"  {' '.join(path):<22} {helptext}")
    lines += ["", "Quick start:", "  p2peval data toycity data/toy --n 40 --size 256",
              "  p2peval scorer train --data data/toy --arch fcn8s-tiny --out scorer.pt",
              "  p2peval fcn-score RESULTS --cityscapes data/toy/cityscapes --scorer scorer.pt"]
    return "\n".join(lines)


def _resolve(argv: list[str]) -> tuple[tuple[str, ...] | None, list[str]]:
    """Longest command path that prefixes argv."""
    for k in (2, 1):
        path = tuple(argv[:k])
        if path in COMMANDS:
            return path, argv[k:]
    return None, argv


class OneLineParser(argparse.ArgumentParser):
    """argparse, with a usage error as one line naming the option (exit 2) instead of the usage block."""

    def error(self, message: str):
        self.exit(2, f"{PROG}: error: {message} (see {self.prog} --help)\n")


def build_parser(path: tuple[str, ...]) -> tuple[argparse.ArgumentParser, object]:
    module_name, helptext = COMMANDS[path]
    module = importlib.import_module(module_name)
    epilog = getattr(module, "EXAMPLES", None)
    parser = OneLineParser(
        prog=f"{PROG} {' '.join(path)}", description=getattr(module, "HELP", helptext),
        epilog=("example:\n" + epilog) if epilog else None,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add = getattr(module, "add_arguments")
    # A module may serve several commands (e.g. studies.cli): it then takes the command path.
    try:
        add(parser, path)
    except TypeError:
        add(parser)
    return parser, module


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_top_help())
        return 0
    if argv[0] == "--version":
        from p2peval import __version__
        print(f"{PROG} {__version__}")
        return 0
    path, rest = _resolve(argv)
    if path is None:
        groups = _groups()
        if argv[0] in groups and all(len(p) > 1 for p, _ in groups[argv[0]]):
            subs = ", ".join(p[1] for p, _ in groups[argv[0]])
            if len(argv) == 1 or argv[1] in ("-h", "--help"):
                print(f"usage: {PROG} {argv[0]} {{{subs}}} ...")
                for p, h in groups[argv[0]]:
                    print(f"  {' '.join(p):<22} {h}")
                return 0
            print(f"{PROG}: error: unknown command '{argv[0]} {argv[1]}'; valid: {subs}", file=sys.stderr)
            return 2
        valid = ", ".join(sorted(groups))
        print(f"{PROG}: error: unknown command {argv[0]!r}; valid commands: {valid}", file=sys.stderr)
        return 2
    try:
        parser, module = build_parser(path)
        # Intermixed: options may stand between positionals (p2peval table a.json --out t.md b.json).
        try:
            args = parser.parse_intermixed_args(rest)
        except SystemExit as e:  # --help (0) or a usage error, already printed as one line (2)
            return int(e.code or 0)
        args.command_path = path
        rc = module.run(args)
        return int(rc or 0)
    except P2PError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted (partial outputs are kept; rerun the same command to resume)",
              file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
