"""``p2peval translate``: run a trained generator (pix2pix or CycleGAN) over a dataset, write a
results folder. The run folder's ``config.json`` says which trainer made it."""

from __future__ import annotations

from p2peval.commands import nonneg_int, positive_int

HELP = ("Translate a dataset split with a trained pix2pix or CycleGAN run into a results folder (PNG + "
        "manifest.json). Cityscapes frames keep their ids (<id>_leftImg8bit.png), so fcn-score and "
        "label-score read the folder directly; other inputs give <stem>_fake_B.png (+ _real_A, _real_B). "
        "pix2pix runs its generator as in the paper (dropout on, batch statistics) unless --eval-mode; "
        "CycleGAN runs G_A (--direction AtoB) or G_B (--direction BtoA).")
EXAMPLES = """  p2peval translate runs/l1cgan --data data/toy --out results/l1cgan
  p2peval fcn-score results/l1cgan --cityscapes data/toy --scorer scorer.pt
  p2peval translate runs/l1cgan --data data/toy --out results/l1cgan-512 --size 512
  p2peval translate runs/cyclegan --data data/toy --out results/cyclegan-photo2labels --direction BtoA"""


def add_arguments(p) -> None:
    p.add_argument("run", help="run folder written by 'p2peval train pix2pix' or 'p2peval train cyclegan'")
    p.add_argument("--data", required=True, help="dataset (same layouts as training)")
    p.add_argument("--out", required=True, help="results folder to write")
    p.add_argument("--direction", choices=["AtoB", "BtoA"],
                   help="CycleGAN: which generator (default AtoB); pix2pix: must match the trained direction")
    p.add_argument("--split", help="dataset split (default: val; CycleGAN testA/testB folders: test)")
    p.add_argument("--size", type=positive_int, help="generated size (default: the training crop size); "
                                            "pix2pix: a multiple of 2^num_downs, CycleGAN: of 4")
    p.add_argument("--eval-mode", action="store_true",
                   help="pix2pix: use BatchNorm running statistics and no dropout (the paper does not)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda (default: auto)")
    p.add_argument("--seed", type=nonneg_int, default=0, help="pix2pix: seed of the test-time dropout masks")
    p.add_argument("--truncate", action="store_true",
                   help="convert to 8 bits by truncation, exactly as the reference's tensor2im "
                        "(default: round to the nearest level)")
    p.add_argument("--no-real", action="store_true", help="do not write the _real_ input images")
    p.add_argument("--quiet", action="store_true", help="no progress output")


def run(args) -> int:
    from pathlib import Path

    from p2peval.core.errors import ConfigError

    run_dir = Path(args.run)
    rounding = "truncate" if args.truncate else "round"
    kind = "pix2pix"
    if (run_dir / "config.json").is_file():
        from trainers.cyclegan.train import run_trainer
        kind = run_trainer(run_dir)
    if kind == "cyclegan":
        if args.eval_mode:
            raise ConfigError("--eval-mode: pix2pix runs only (a CycleGAN generator always runs in eval "
                              "mode; without dropout and with instance norm it equals train mode)")
        from trainers.cyclegan.translate import translate
        out = translate(run_dir, Path(args.data), Path(args.out), direction=args.direction or "AtoB",
                        size=args.size, split=args.split, device=args.device, real_images=not args.no_real,
                        rounding=rounding, show_progress=not args.quiet)
    else:
        from trainers.pix2pix.train import read_config
        from trainers.pix2pix.translate import translate
        if args.direction is not None:
            trained = read_config(run_dir).data.direction
            if args.direction != trained:
                raise ConfigError(f"--direction {args.direction}: this pix2pix run was trained {trained}; "
                                  "a pix2pix generator translates in its trained direction only")
        out = translate(run_dir, Path(args.data), Path(args.out), size=args.size,
                        eval_mode=args.eval_mode, split=args.split or "val", device=args.device, seed=args.seed,
                        real_images=not args.no_real, rounding=rounding, show_progress=not args.quiet)
    print(f"results folder: {out}")
    return 0
