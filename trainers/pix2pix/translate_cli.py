"""``p2peval translate``: run a trained generator over a dataset, write a results folder."""

from __future__ import annotations

from p2peval.commands import nonneg_int, positive_int

HELP = ("Translate a dataset split with a trained pix2pix run into a results folder (PNG + "
        "manifest.json). Cityscapes frames keep their ids (<id>_leftImg8bit.png), so fcn-score reads "
        "the folder directly; other inputs give <stem>_fake_B.png (+ _real_A, _real_B). The generator "
        "runs as in the paper (dropout on, batch statistics) unless --eval-mode.")
EXAMPLES = """  p2peval translate runs/l1cgan --data data/toy --out results/l1cgan
  p2peval fcn-score results/l1cgan --cityscapes data/toy --scorer scorer.pt
  p2peval translate runs/l1cgan --data data/toy --out results/l1cgan-512 --size 512"""


def add_arguments(p) -> None:
    p.add_argument("run", help="run folder written by 'p2peval train pix2pix'")
    p.add_argument("--data", required=True, help="dataset (same layouts as training)")
    p.add_argument("--out", required=True, help="results folder to write")
    p.add_argument("--split", default="val", help="dataset split (default: val)")
    p.add_argument("--size", type=positive_int, help="generated size (default: the training crop size); "
                                            "any multiple of 2^num_downs")
    p.add_argument("--eval-mode", action="store_true",
                   help="use BatchNorm running statistics and no dropout (the paper does not)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda (default: auto)")
    p.add_argument("--seed", type=nonneg_int, default=0, help="seed of the test-time dropout masks")
    p.add_argument("--truncate", action="store_true",
                   help="convert to 8 bits by truncation, exactly as the reference's tensor2im "
                        "(default: round to the nearest level)")
    p.add_argument("--no-real", action="store_true", help="do not write _real_A/_real_B images")
    p.add_argument("--quiet", action="store_true", help="no progress output")


def run(args) -> int:
    from pathlib import Path

    from trainers.pix2pix.translate import translate

    out = translate(Path(args.run), Path(args.data), Path(args.out), size=args.size,
                    eval_mode=args.eval_mode, split=args.split, device=args.device, seed=args.seed,
                    real_images=not args.no_real,
                    rounding="truncate" if args.truncate else "round", show_progress=not args.quiet)
    print(f"results folder: {out}")
    return 0
