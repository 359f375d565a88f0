"""``p2peval scorer train``: train a segmentation scorer as the reference FCN-8s was trained."""

from __future__ import annotations

from p2peval.commands import nonneg_float, nonneg_int, positive_float, positive_int

HELP = ("Train a segmentation scorer on Cityscapes (native layout) or toy-city the way the "
        "reference FCN-8s was trained: photos downsampled to the protocol's 256x256 and upsampled "
        "back, against full-resolution train-id labels (ignore 255). Resumes automatically from "
        "<out stem>.state.pt; runs on CPU, one GPU, or several GPUs under torchrun.")
EXAMPLES = """  p2peval scorer train --data data/toy --arch fcn8s-small --out scorers/toy.pt --epochs 10
  p2peval scorer train --data /data/cityscapes --arch fcn8s --out fcn8s.pt --device cuda --crop 512x1024
  torchrun --nproc_per_node 4 -m p2peval scorer train --data /data/cityscapes --arch fcn8s \\
      --out fcn8s.pt --device cuda --batch-size 8"""


def _size(text: str) -> tuple[int, int]:
    import argparse

    from p2peval.commands import parse_hw
    hw = parse_hw(text)
    if hw is None:
        raise argparse.ArgumentTypeError(f"expected HxW (e.g. 512x1024), got {text!r}")
    return hw


def _widths(text: str) -> list[int]:
    import argparse
    try:
        w = [int(v) for v in text.split(",")]
        if len(w) != 5 or min(w) < 1:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected five positive widths like 16,32,64,128,128, got {text!r}") from None
    return w


def add_arguments(p) -> None:
    p.add_argument("--data", required=True, help="Cityscapes root or toy-city folder (with cityscapes/)")
    p.add_argument("--arch", required=True, help="scorer architecture (see 'p2peval scorer list')")
    p.add_argument("--out", required=True, help="checkpoint to write (resume state goes beside it)")
    p.add_argument("--protocol", default="pix2pix", help="protocol the scorer is trained for (default pix2pix)")
    p.add_argument("--epochs", type=positive_int, default=20, help="epochs over the train split (default 20)")
    p.add_argument("--steps", type=positive_int, default=None, help="total optimizer steps (overrides --epochs)")
    p.add_argument("--batch-size", type=positive_int, default=1, help="global batch size (default 1)")
    p.add_argument("--optimizer", default="adam", help="adam (default) or sgd (momentum 0.9)")
    p.add_argument("--lr", type=positive_float, default=1e-3, help="learning rate (default 1e-3)")
    p.add_argument("--lr-schedule", default="poly", help="poly (default; lr*(1-step/total)^0.9) or constant")
    p.add_argument("--weight-decay", type=nonneg_float, default=0.0)
    p.add_argument("--crop", type=_size, default=None, metavar="HxW",
                   help="random crops of input and label (for memory); default: whole frames")
    p.add_argument("--no-mirror", action="store_true", help="no random horizontal mirroring")
    p.add_argument("--widths", type=_widths, default=None, metavar="W1,...,W5",
                   help="FCN-8s conv block widths (fcn8s archs only)")
    p.add_argument("--fc-width", type=positive_int, default=None, help="FCN-8s fc6/fc7 width (fcn8s archs only)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--workers", type=nonneg_int, default=0,
                   help="processes preparing batches (default 0: in the main process)")
    p.add_argument("--seed", type=nonneg_int, default=0)
    p.add_argument("--save-every", type=positive_int, default=100, help="steps between checkpoints (default 100)")
    p.add_argument("--val-frames", type=positive_int, default=None, help="validate on the first N val frames only")
    p.add_argument("--no-val", action="store_true", help="no validation after each epoch")
    p.add_argument("--no-resume", action="store_true", help="start over even if a resume state exists")
    p.add_argument("--quiet", action="store_true", help="no progress output")


def run(args) -> int:
    from p2peval.core.errors import ConfigError
    from p2peval.scorers.train import ScorerTrainConfig, ScorerTrainRun, train_scorer

    config = {}
    if args.widths is not None or args.fc_width is not None:
        if not args.arch.startswith("fcn8s"):
            raise ConfigError(f"--widths/--fc-width apply to FCN-8s architectures, not {args.arch!r}")
        if args.widths is not None:
            config["widths"] = args.widths
        if args.fc_width is not None:
            config["fc_width"] = args.fc_width
    cfg = ScorerTrainConfig(
        arch=args.arch, model=config, protocol=args.protocol, epochs=args.epochs, steps=args.steps,
        batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr, weight_decay=args.weight_decay,
        lr_schedule=args.lr_schedule, crop=args.crop, mirror=not args.no_mirror, seed=args.seed,
        save_every=args.save_every, val_frames=args.val_frames)
    meta = train_scorer(args.data, cfg, out=args.out, run=ScorerTrainRun(
        device=args.device, resume=not args.no_resume, show_progress=not args.quiet,
        validate_each_epoch=not args.no_val, workers=args.workers))
    hist = (meta.get("training") or {}).get("validation") or []
    if hist and not args.quiet:
        v = hist[-1]
        print(f"validation (real val photos, epoch {v['epoch']}): per-pixel {v['per_pixel_acc']:.3f} "
              f"per-class {v['per_class_acc']:.3f} IoU {v['class_iou']:.3f}")
    return 0
