"""``p2peval ablation list`` and ``p2peval ablation run``: the pix2pix and CycleGAN papers' ablation sets."""

from __future__ import annotations

from p2peval.commands import nonneg_int, positive_int

HELP = ("The pix2pix and CycleGAN papers' ablations as named sets: list them, or train, translate and score "
        "every variant.")
EXAMPLES = """  p2peval ablation list
  p2peval ablation run losses --data data/toy --scorer scorer.pt --out ablations/losses --size 64 --steps 500
  p2peval ablation run photo2labels --data data/toy --out ablations/photo2labels
  p2peval table ablations/losses/scores/*.json
  p2peval ablation run cyclegan-losses --data data/toy --scorer scorer.pt --out ablations/cg --size 128 --steps 2000
  p2peval table ablations/cg/scores/labels2photo/*.json --published cyclegan-labels2photo"""


def add_arguments(p, path=("ablation", "run")) -> None:
    if path[-1] == "list":
        p.add_argument("--json", action="store_true", help="print the sets as JSON")
        return
    p.add_argument("name", help="ablation set (see 'p2peval ablation list')")
    p.add_argument("--data", required=True, help="Cityscapes root or toy-city folder")
    p.add_argument("--out", required=True, help="output folder (runs/, results/, scores/, ablation.json)")
    p.add_argument("--scorer", help="scorer checkpoint for fcn-score (labels -> photo sets)")
    p.add_argument("--size", type=positive_int, default=256, help="training and generated size (default 256)")
    p.add_argument("--steps", type=positive_int, help="training iterations per variant")
    p.add_argument("--epochs", type=positive_int, help="training epochs per variant (default 200 unless --steps)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="config override for every variant, e.g. --set generator.ngf=32")
    p.add_argument("--variant", action="append", help="run only this variant (repeatable)")
    p.add_argument("--device", default="auto")
    p.add_argument("--protocol", help="scoring protocol (default: the set's, pix2pix or cyclegan)")
    p.add_argument("--n-resamples", type=positive_int, default=1000, help="bootstrap resamples for the CIs")
    p.add_argument("--seed", type=nonneg_int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress output")


def run(args) -> int:
    import json

    from trainers.ablations import ABLATIONS

    if args.command_path[-1] == "list":
        sets = [ABLATIONS.get(n) for n in ABLATIONS.names()]
        if args.json:
            print(json.dumps({s.name: {"description": s.description, "paper": s.paper, "task": s.task,
                                       "trainer": s.trainer,
                                       "variants": {v.name: {"description": v.description,
                                                             "overrides": list(v.overrides)} for v in s.variants}}
                              for s in sets}, indent=2))
            return 0
        for s in sets:
            score = {"labels2photo": "fcn-score", "photo2labels": "label-score",
                     "both": "fcn-score (labels -> photo) and label-score (photo -> labels)"}[s.task]
            print(f"{s.name}  ({s.paper}; scored with {score})\n  {s.description}")
            for v in s.variants:
                print(f"    {v.name:<26} {v.description}  [{' '.join(v.overrides)}]")
            print()
        return 0
    from pathlib import Path

    from trainers.ablations import run_ablation
    scores = run_ablation(args.name, Path(args.data), Path(args.out),
                          None if args.scorer is None else Path(args.scorer), size=args.size,
                          steps=args.steps, epochs=args.epochs, overrides=args.set, device=args.device,
                          protocol=args.protocol, n_resamples=args.n_resamples, seed=args.seed,
                          variants=args.variant, show_progress=not args.quiet)
    for name, path in scores.items():
        print(f"{name}: {path}")
    return 0
