"""``p2peval fcn-score``: FCN-score of generated Cityscapes photos."""

from __future__ import annotations

from p2peval.commands import nonneg_float, nonneg_int, positive_int, probability

HELP = ("FCN-score (per-pixel accuracy, per-class accuracy, class IoU) of generated Cityscapes "
        "photos, with bootstrap confidence intervals over frames. Protocol pix2pix (default) "
        "reproduces the reference evaluator exactly, including its index-19 quirk (reported).")
EXAMPLES = """  p2peval fcn-score results/l1_cgan --cityscapes data/cityscapes --scorer fcn8s.pt --out score.json
  p2peval fcn-score pix2pix_out/images --match sorted --cityscapes data/cityscapes --scorer fcn8s.pt
  p2peval fcn-score results/ --cityscapes data/toy --scorer scorer.pt --protocol fast --device cuda
  p2peval fcn-score results/ --cityscapes data/toy --scorer scorer.pt --protocol fast --precision bf16
  torchrun --nproc-per-node 2 -m p2peval fcn-score results/ --cityscapes data/cityscapes --scorer fcn8s.pt"""


def add_ground_truth_arguments(p) -> None:
    """Options shared by fcn-score and label-score: ground truth, matching, protocol, output."""
    gt = p.add_argument_group("ground truth (one of)")
    gt.add_argument("--cityscapes", metavar="ROOT", help="Cityscapes root (gtFine labelIds), or a "
                    "toy-city folder containing cityscapes/")
    gt.add_argument("--labels", metavar="DIR", help="folder of label images named by Cityscapes id or "
                    "<n>: single-channel train ids (0..18, 255) or colour (nearest class colour)")
    p.add_argument("--split", default="val", help="Cityscapes split (default: val)")
    p.add_argument("--match", default="id", metavar="id|sorted|FILE.csv",
                   help="pair results with frames: by id (default); 'sorted': the n-th <n>_fake_B.png is "
                        "the n-th frame in sorted order; or a CSV with columns n,cityscapes_id")
    p.add_argument("--protocol", default="pix2pix", help="named protocol (p2peval protocols); default pix2pix")
    p.add_argument("--out", metavar="SCORE.json", help="write the score file here (atomic); a partial "
                   "state SCORE.json.partial.npz lets an interrupted run resume")
    p.add_argument("--no-resume", action="store_true", help="ignore a partial state left by an earlier run")
    p.add_argument("--label", help="row name for tables (default: from manifest.json or the folder name)")
    p.add_argument("--bootstrap", type=positive_int, default=1000, metavar="N",
                   help="bootstrap resamples for the 95%% CIs (default 1000)")
    p.add_argument("--seed", type=nonneg_int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--workers", type=nonneg_int, default=None, help="decoding worker processes (default: cores-1, max 4)")
    p.add_argument("--labels-side", choices=("whole", "A", "B"), default="whole",
                   help="with --labels: use the left (A) or right (B) half of pix2pix A|B pair images")
    p.add_argument("--color-tolerance", type=nonneg_float, default=60.0,
                   help="RGB distance within which a colour matches a class colour (default 60)")
    p.add_argument("--max-unmatched", type=probability, default=0.1,
                   help="refuse a colour label image with a larger fraction of unmatched pixels (default 0.1)")
    p.add_argument("--json", action="store_true", help="print the score JSON instead of the table")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no table")


def add_arguments(p) -> None:
    p.add_argument("results", metavar="RESULTS", help="folder of generated photos (PNG)")
    p.add_argument("--scorer", required=True, metavar="CKPT", help="scorer checkpoint (p2peval scorer import-caffe / train)")
    add_ground_truth_arguments(p)
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help="images per forward pass (default: 1 at label resolution, 8 otherwise)")
    p.add_argument("--precision", default="fp32", choices=("fp32", "tf32", "bf16"),
                   help="arithmetic of the scorer (default fp32); tf32 (CUDA only) and bf16 only with "
                        "protocol fast, never with pix2pix or pix2pix-strict; recorded in the score file")


def ground_truth_options(args):
    """The ground-truth options shared by fcn-score and label-score."""
    from p2peval.scoring.options import GroundTruth
    return GroundTruth(cityscapes=args.cityscapes, labels=args.labels, split=args.split, match=args.match,
                       labels_side=args.labels_side, color_tolerance=args.color_tolerance,
                       max_unmatched=args.max_unmatched)


def interval_options(args):
    from p2peval.scoring.options import Intervals
    return Intervals(n_resamples=args.bootstrap, seed=args.seed)


def finish(args, score) -> int:
    """Print and write a score (rank 0), then remove the partial state."""
    import json
    import sys

    from p2peval.core.partial_state import partial_path
    from p2peval.report.scorefile import json_safe, write_score
    from p2peval.scoring.stream import print_score_table

    if score is None:  # a non-zero torchrun rank
        return 0
    if args.out:
        write_score(args.out, score)
        world = int(score["inputs"].get("processes", 1))
        for r in range(world):
            partial_path(args.out, r, world).unlink(missing_ok=True)
    if args.json:
        print(json.dumps(json_safe(score), indent=2))
    elif not args.quiet:
        print_score_table(score)
        if args.out:
            print(f"  score file: {args.out}")
    sys.stdout.flush()
    return 0


def run(args) -> int:
    import os

    from p2peval.core.errors import P2PError
    from p2peval.scoring.fcn_score import fcn_score
    from p2peval.scoring.options import Execution

    try:
        score = fcn_score(
            args.results, scorer=args.scorer, truth=ground_truth_options(args), protocol=args.protocol,
            precision=args.precision, label=args.label, intervals=interval_options(args),
            run=Execution(device=args.device, batch_size=args.batch_size, workers=args.workers,
                          show_progress=not args.quiet, partial=args.out, resume=not args.no_resume))
    except P2PError as e:
        if int(os.environ.get("RANK", "0")) != 0:  # rank 0 reports it; one line in all
            return e.exit_code
        raise
    return finish(args, score)
