"""``p2peval demo``: the whole job on toy-city (what ``make demo`` runs)."""

from __future__ import annotations

from p2peval.commands import nonneg_int, positive_int

HELP = ("The whole job on toy-city, end to end: generate toy-city, train a small FCN-8s scorer, "
        "train small GANs with the bundled trainers (pix2pix L1 and L1+cGAN), translate the val "
        "labels, FCN-score and colour-score every model, the real photos and a degraded copy, then "
        "write the comparison table, the colour plot, a sample sheet, an HTML report and a ready "
        "perceptual study. Networks are smaller than the papers' to fit minutes on 2 CPU cores. "
        "Reruns skip what is done.")
EXAMPLES = ("  p2peval demo --out results/demo\n"
            "  p2peval demo --out /tmp/demo --n-train 20 --n-val 8 --steps 100 --gan-steps 200")


def add_arguments(p) -> None:
    from trainers.demo import DemoConfig
    d = DemoConfig()
    p.add_argument("--out", default="results/demo", help="output folder (default results/demo)")
    p.add_argument("--n-train", type=positive_int, default=d.n_train, help=f"toy-city train frames (default {d.n_train})")
    p.add_argument("--n-val", type=positive_int, default=d.n_val, help=f"toy-city val frames (default {d.n_val})")
    p.add_argument("--steps", type=positive_int, default=d.steps, help=f"scorer training steps (default {d.steps})")
    p.add_argument("--gan-steps", type=positive_int, default=d.gan_steps,
                   help=f"training steps of each GAN (default {d.gan_steps})")
    p.add_argument("--gan-filters", type=positive_int, default=d.gan_filters,
                   help=f"filters of the first generator and discriminator layer (default {d.gan_filters}; "
                        "the pix2pix paper: 64)")
    p.add_argument("--rows", default=",".join(d.trained_rows),
                   help=f"trained rows, comma-separated (default {','.join(d.trained_rows)})")
    p.add_argument("--arch", default=d.arch, help=f"scorer architecture (default {d.arch})")
    p.add_argument("--device", default=d.device, help="cpu (default) or cuda")
    p.add_argument("--seed", type=nonneg_int, default=d.seed)
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args) -> int:
    from dataclasses import replace

    from trainers.demo import DemoConfig, run_demo

    rows = tuple(r.strip() for r in args.rows.split(",") if r.strip())
    cfg = replace(DemoConfig(), n_train=args.n_train, n_val=args.n_val, steps=args.steps,
                  gan_steps=args.gan_steps, gan_filters=args.gan_filters, trained_rows=rows,
                  arch=args.arch, device=args.device, seed=args.seed)
    result = run_demo(args.out, cfg, show_progress=not args.quiet)
    return 0 if result["degraded_ok"] else 1
