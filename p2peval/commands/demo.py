"""``p2peval demo``: the main job on toy-city (what ``make demo`` runs)."""

from __future__ import annotations

from p2peval.commands import nonneg_int, positive_int

HELP = ("The main job on toy-city, end to end: generate toy-city, train a small FCN-8s scorer the "
        "way the reference scorer was trained, FCN-score the real val photos (the 'ground truth' "
        "row) and degraded versions of them (blurred, colour-shifted, the colour labels), print "
        "the table with 95% confidence intervals and write the score files. Reruns reuse what "
        "exists.")
EXAMPLES = "  p2peval demo --out results/demo\n  p2peval demo --out /tmp/demo --n-train 20 --steps 100"


def add_arguments(p) -> None:
    from p2peval.demo import DemoConfig
    d = DemoConfig()
    p.add_argument("--out", default="results/demo", help="output folder (default results/demo)")
    p.add_argument("--n-train", type=positive_int, default=d.n_train, help=f"toy-city train frames (default {d.n_train})")
    p.add_argument("--n-val", type=positive_int, default=d.n_val, help=f"toy-city val frames (default {d.n_val})")
    p.add_argument("--steps", type=positive_int, default=d.steps, help=f"scorer training steps (default {d.steps})")
    p.add_argument("--arch", default=d.arch, help=f"scorer architecture (default {d.arch})")
    p.add_argument("--device", default=d.device, help="cpu (default) or cuda")
    p.add_argument("--seed", type=nonneg_int, default=d.seed)
    p.add_argument("--quiet", action="store_true", help="no progress output")


def run(args) -> int:
    from dataclasses import replace

    from p2peval.demo import DemoConfig, run_demo

    cfg = replace(DemoConfig(), n_train=args.n_train, n_val=args.n_val, steps=args.steps,
                  arch=args.arch, device=args.device, seed=args.seed)
    result = run_demo(args.out, config=cfg, show_progress=not args.quiet)
    return 0 if result["ordering_ok"] else 1
