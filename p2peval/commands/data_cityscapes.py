"""``p2peval data cityscapes``: pix2pix pairs and the ground-truth results folder from Cityscapes."""

from __future__ import annotations

from p2peval.commands import nonneg_int, positive_int

HELP = ("From a Cityscapes download (leftImg8bit/ and gtFine/), write what the paper's Cityscapes "
        "rows need: pix2pix pairs OUT/{train,val}/<n>.png (photo | colour label, 256x256 each, "
        "numbered 1..N in sorted order, with OUT/{train,val}_ids.csv for --match) and "
        "OUT/ground_truth_256/ (the real val photos at 256x256 named by Cityscapes id: the "
        "'ground truth' row's results folder). Resumable; photos bicubic, labels nearest by default.")
EXAMPLES = ("  p2peval data cityscapes ~/data/cityscapes --out data/cityscapes_pix2pix\n"
            "  p2peval fcn-score data/cityscapes_pix2pix/ground_truth_256 --cityscapes ~/data/cityscapes "
            "--scorer scorers/fcn8s-caffe.pt")


def add_arguments(p) -> None:
    from p2peval.data.cityscapes_prepare import FILTERS

    p.add_argument("root", metavar="ROOT", help="Cityscapes root (with leftImg8bit/ and gtFine/)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--size", type=positive_int, default=256, help="side of each half of a pair (default 256)")
    p.add_argument("--photo-filter", default="bicubic", choices=FILTERS, help="PIL filter for photos")
    p.add_argument("--label-filter", default="nearest", choices=FILTERS, help="PIL filter for colour labels")
    p.add_argument("--splits", default="train,val", help="comma-separated splits (default train,val)")
    p.add_argument("--no-ground-truth", action="store_true", help="do not write ground_truth_<size>/")
    p.add_argument("--workers", type=nonneg_int, default=None, help="processes (default: up to 4)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    from p2peval.data.cityscapes_prepare import PrepareConfig, prepare_cityscapes

    cfg = PrepareConfig(size=args.size, photo_filter=args.photo_filter, label_filter=args.label_filter,
                        splits=tuple(s.strip() for s in args.splits.split(",") if s.strip()),
                        ground_truth=not args.no_ground_truth)
    s = prepare_cityscapes(args.root, args.out, cfg, workers=args.workers, show_progress=not args.quiet)
    frames = ", ".join(f"{k} {v}" for k, v in s["frames"].items())
    print(f"prepared {frames} frames in {args.out} ({s['frames_written']} written, {s['frames_kept']} kept); "
          f"pairs {cfg.size}x{cfg.size} photo ({s['photo_filter']}) | colour label ({s['label_filter']})")
    if s["ground_truth_folder"]:
        print(f"ground-truth results folder: {args.out}/{s['ground_truth_folder']} "
              f"(real val photos, {s['photo_filter']})")
    return 0
