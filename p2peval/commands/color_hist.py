"""``p2peval color-hist``: Lab colour-distribution intersection of results folders with a reference."""

from p2peval.commands import confidence_level, nonneg_int, positive_int

HELP = ("Lab colour-distribution score (the pix2pix paper's Figure 7): per-channel Lab histograms "
        "over all pixels, histogram intersection with the reference, bootstrap CI over images.")
EXAMPLES = """  p2peval color-hist results/L1 --reference data/toy/real_val --out scores/L1.color.json
  p2peval color-hist results/L1 results/L1+cGAN --reference data/toy --out scores/ --plot color.png
  p2peval color-hist results/L1 --reference data/toy --bins-L 50 --bins-a -100:100:200

--out: a .json file for one RESULTS folder; a directory (created) for several, which gets
<label>.color-hist.json per folder. Each score file has a <name>.frames.npz sidecar with the
per-image counts (for paired comparisons in 'p2peval table')."""


def add_arguments(p):
    p.add_argument("results", nargs="+", metavar="RESULTS", help="results folder(s) of generated images")
    p.add_argument("--reference", required=True, metavar="REAL",
                   help="folder of real images (or *_real_B images), or a Cityscapes/toy-city root")
    p.add_argument("--split", default="val", help="split of a Cityscapes reference (default val)")
    p.add_argument("--out", help="score file (one RESULTS) or directory (several)")
    p.add_argument("--plot", metavar="PNG", help="write the log-probability plot of the Lab marginals")
    p.add_argument("--label", action="append", help="row label per RESULTS folder (default: manifest or folder name)")
    p.add_argument("--bins-L", help="L bins: N or LO:HI:N (default 0:100:100)")
    p.add_argument("--bins-a", help="a bins: N or LO:HI:N (default -128:128:256)")
    p.add_argument("--bins-b", help="b bins: N or LO:HI:N (default -128:128:256)")
    p.add_argument("--workers", type=nonneg_int, default=None, help="decoding processes (default: up to 4; 0 = in process)")
    p.add_argument("--batch-size", type=positive_int, default=8, help="images per worker task (default 8)")
    p.add_argument("--n-resamples", type=positive_int, default=1000, help="bootstrap resamples (default 1000)")
    p.add_argument("--seed", type=nonneg_int, default=0)
    p.add_argument("--level", type=confidence_level, default=0.95, help="confidence level (default 0.95)")
    p.add_argument("--quiet", action="store_true", help="no progress output")


def _out_paths(args, labels):
    from pathlib import Path

    from p2peval.core.errors import ConfigError

    if not args.out:
        return [None] * len(labels)
    out = Path(args.out)
    if len(labels) == 1 and not (out.is_dir() or args.out.endswith("/")):
        if out.suffix != ".json":
            raise ConfigError(f"--out {args.out}: a score file must end in .json (or give a directory)")
        return [out]
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {args.out}: several RESULTS need a directory, and this is a file")
    safe = [l.replace("/", "_").replace(" ", "_") for l in labels]
    if len(set(safe)) != len(safe):
        raise ConfigError(f"two RESULTS folders have the same label ({', '.join(labels)}); give --label per folder")
    return [out / f"{s}.color-hist.json" for s in safe]


def run(args):
    from pathlib import Path

    from p2peval.core.errors import ConfigError
    from p2peval.metrics.color import LabBins
    from p2peval.scoring.color_hist import (
        color_hist,
        count_images,
        find_images,
        folder_label,
        plot_color_hist,
    )

    bins = LabBins.parse(args.bins_L, args.bins_a, args.bins_b)
    if args.label and len(args.label) != len(args.results):
        raise ConfigError(f"--label given {len(args.label)} times for {len(args.results)} RESULTS folders")
    if args.plot and not args.plot.lower().endswith(".png"):
        raise ConfigError(f"--plot {args.plot}: expected a .png file name")
    # Validate every input before the long work starts.
    for r in args.results:
        find_images(r, "results")
    labels = args.label or [folder_label(r) for r in args.results]
    outs = _out_paths(args, labels)
    ref = count_images(find_images(args.reference, "reference", args.split), bins, workers=args.workers,
                       batch_size=args.batch_size, show_progress=not args.quiet, desc="color-hist reference")
    scores = []
    for r, label, out in zip(args.results, labels, outs):
        res = color_hist(r, ref, bins=bins, label=label, workers=args.workers, batch_size=args.batch_size,
                         n_resamples=args.n_resamples, seed=args.seed, level=args.level,
                         show_progress=not args.quiet)
        if out is not None:
            res.write(out)
        scores.append(res.score)
        v, ci = res.score["values"], res.score["ci"]
        cells = "  ".join(f"{ch} {v[ch]:.4f}" + (f" [{ci[ch][0]:.4f}, {ci[ch][1]:.4f}]" if ch in ci else "")
                          for ch in ("L", "a", "b"))
        where = f"  -> {out}" if out else ""
        print(f"{label}: {cells}  ({res.score['counts']['images']} images, "
              f"{res.score['inputs']['pairing_detail']}){where}")
    if args.plot:
        print(f"plot -> {plot_color_hist(scores, Path(args.plot))}")
    return 0
