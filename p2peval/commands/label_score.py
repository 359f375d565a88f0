"""``p2peval label-score``: predicted label maps (photo -> labels) against the ground truth."""

from __future__ import annotations

HELP = ("Score predicted label maps (photo -> labels, the paper's Table 6) against the ground truth "
        "with the FCN-score metrics and the same code path: colour or train-id PNGs named like "
        "fcn-score results.")
EXAMPLES = """  p2peval label-score results/photo2label --cityscapes data/cityscapes --out labels_score.json
  p2peval label-score out/images --match sorted --labels data/toy/pix2pix/val --labels-side B"""


def add_arguments(p) -> None:
    from p2peval.commands.fcn_score import add_ground_truth_arguments

    p.add_argument("pred", metavar="PRED", help="folder of predicted label maps (colour or train-id PNG)")
    add_ground_truth_arguments(p)


def run(args) -> int:
    from p2peval.commands.fcn_score import finish, ground_truth_options, interval_options
    from p2peval.scoring.label_score import label_score
    from p2peval.scoring.options import Execution

    score = label_score(
        args.pred, truth=ground_truth_options(args), protocol=args.protocol, label=args.label,
        intervals=interval_options(args),
        run=Execution(workers=args.workers, show_progress=not args.quiet, partial=args.out,
                      resume=not args.no_resume))
    score["inputs"].setdefault("processes", 1)
    return finish(args, score)
