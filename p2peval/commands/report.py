"""``p2peval report``: one self-contained HTML page comparing score files by eye."""

from p2peval.commands import nonneg_int, positive_int

HELP = ("One self-contained HTML report from score files: the comparison table with significance "
        "marks, per-class IoU and accuracy bars, the colour plot, the per-frame pixel accuracy of "
        "every row, and the frames where the rows differ most (generated image, what the scorer "
        "saw, ground truth). Images are inlined: the page makes no network request.")
EXAMPLES = """  p2peval report results/demo/scores/*.json --out report.html
  p2peval report a.fcn-score.json b.fcn-score.json --scorer scorer.pt --frames 6 --out r.html"""


def add_arguments(p) -> None:
    p.add_argument("scores", nargs="+", metavar="SCOREFILES",
                   help="score files (fcn-score, label-score, color-hist, study)")
    p.add_argument("--out", required=True, help="HTML file to write")
    p.add_argument("--title", default="p2peval report", help="page title")
    p.add_argument("--frames", type=nonneg_int, default=4,
                   help="frames where the rows differ most to show (default 4; 0: none)")
    p.add_argument("--scorer", default=None,
                   help="scorer checkpoint for the segmentations (default: the one named in each "
                        "score file)")
    p.add_argument("--n-resamples", type=positive_int, default=1000,
                   help="paired bootstrap resamples for the significance marks (default 1000)")
    p.add_argument("--seed", type=nonneg_int, default=0)


def run(args) -> int:
    from p2peval.report.html import write_report

    out = write_report(args.scores, args.out, title=args.title, n_frames=args.frames,
                       scorer=args.scorer, n_resamples=args.n_resamples, seed=args.seed)
    print(f"wrote {out}")
    return 0
