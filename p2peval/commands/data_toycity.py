"""``p2peval data toycity``: generate the synthetic toy-city street-scene dataset."""

from p2peval.commands import NumberType, nonneg_int, positive_int

SIDE = NumberType(int, 16)  # pixels; smaller frames cannot hold a street scene

HELP = ("Generate a deterministic synthetic street-scene dataset: Cityscapes label maps (19 train "
        "classes plus ignored ids) and photos rendered from them, written in the native Cityscapes "
        "layout (OUT/cityscapes) and as pix2pix photo|label pairs (OUT/pix2pix). Reruns resume.")
EXAMPLES = ("  p2peval data toycity data/toy --n 40 --size 256 --seed 0\n"
            "  p2peval data toycity data/toy-hd --n 400 --val 100 --size 256 --native-height 512 --workers 2")


def add_arguments(p):
    p.add_argument("out", help="output folder (created; a rerun with the same settings resumes)")
    p.add_argument("--n", type=positive_int, required=True, help="number of training frames")
    p.add_argument("--val", type=positive_int, default=None, help="number of validation frames (default: max(1, N // 4))")
    p.add_argument("--size", type=SIDE, default=256, help="pix2pix image side S (default 256)")
    p.add_argument("--native-height", type=SIDE, default=None,
                   help="height H of the native Cityscapes-layout frames, H x 2H (default: S)")
    p.add_argument("--seed", type=nonneg_int, default=0, help="dataset seed (default 0)")
    p.add_argument("--workers", type=positive_int, default=None, help="worker processes (default: up to 4 CPUs)")


def run(args):
    import json

    from p2peval.data.toycity import generate_toycity

    n_val = max(1, args.n // 4) if args.val is None else args.val
    result = generate_toycity(args.out, args.n, n_val, size=args.size, seed=args.seed,
                              native_height=args.native_height, progress=True, workers=args.workers)
    freq = result["class_pixel_frequency"]
    missing = [k for k, v in freq.items() if v == 0]
    print(f"wrote {result['n_train']} train + {result['n_val']} val frames to {args.out} "
          f"(native {result['native_height']}x{result['native_width']}, pix2pix {result['size']}x{2 * result['size']})")
    if missing:
        print(f"note: classes absent from this dataset: {', '.join(missing)} (generate more frames)")
    print(json.dumps({"class_pixel_frequency": {k: round(v, 5) for k, v in freq.items()}}))
    return 0
