"""``p2peval segment``: write what the scorer sees, to inspect failures."""

from __future__ import annotations

HELP = ("Run a scorer over a folder of images and write, per image, the argmax as a train-id PNG "
        "(<stem>_trainIds.png; 19 = the reference FCN-8s's extra output) and a colour PNG "
        "(<stem>_color.png); with --save-scores the raw scores as float32 (C, H, W) <stem>_scores.npy.")
EXAMPLES = """  p2peval segment results/l1_cgan --scorer fcn8s.pt --out inspect/ --cityscapes data/cityscapes
  p2peval segment results/ --scorer scorer.pt --out inspect/ --protocol fast --save-scores"""


def _size(text: str) -> tuple[int, int]:
    import argparse

    from p2peval.commands import parse_hw
    hw = parse_hw(text)
    if hw is None:
        raise argparse.ArgumentTypeError(f"expected HxW, e.g. 1024x2048, got {text!r}")
    return hw


def add_arguments(p) -> None:
    p.add_argument("images", metavar="IMAGES", help="folder of images")
    p.add_argument("--scorer", required=True, metavar="CKPT", help="scorer checkpoint")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--protocol", default="pix2pix", help="named protocol (default pix2pix)")
    p.add_argument("--save-scores", action="store_true", help="also write raw scores as float32 .npy (C, H, W)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--cityscapes", metavar="ROOT", help="resize each image to its Cityscapes label's size "
                   "(pix2pix protocols; images named by Cityscapes id)")
    p.add_argument("--split", default="val", help="Cityscapes split for --cityscapes (default val)")
    p.add_argument("--size", type=_size, metavar="HxW", help="evaluation size where no label gives it "
                   "(default 1024x2048 for pix2pix protocols, the image's own size for fast)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    from p2peval.scoring.segment import segment

    info = segment(args.images, scorer=args.scorer, out=args.out, protocol=args.protocol,
                   save_scores=args.save_scores, device=args.device, size=args.size,
                   cityscapes=args.cityscapes, split=args.split, show_progress=not args.quiet)
    print(f"segmented {info['n_images']} images into {args.out}")
    return 0
