"""``p2peval bench color-hist``: megapixels/s of color-hist end to end against decoding alone."""

from __future__ import annotations

from p2peval.commands import nonneg_int, positive_int

HELP = ("Benchmark color-hist on a generated folder of PNG images: megapixels/s end to end (decode, "
        "sRGB->Lab, histograms, bootstrap and score) and for decoding alone through the same worker "
        "pool; medians of --repeats runs, measured in one process. Target: end to end >= 0.8 x decoding.")

EXAMPLES = ("  p2peval bench color-hist --out results/benchmarks\n"
            "  p2peval bench color-hist --images 400 --size 256 --workers 2 --repeats 5")


def add_arguments(p) -> None:
    p.add_argument("--out", default="results/benchmarks", help="folder for color_hist.json")
    p.add_argument("--images", type=positive_int, default=200, help="images in the generated folder (default 200)")
    p.add_argument("--size", type=positive_int, default=256, help="image side in pixels (default 256)")
    p.add_argument("--workers", type=nonneg_int, default=None, help="worker processes (default: as color-hist)")
    p.add_argument("--batch-size", type=positive_int, default=8)
    p.add_argument("--repeats", type=positive_int, default=3, help="runs per measurement (median reported)")
    p.add_argument("--seed", type=nonneg_int, default=0)



def run(args) -> int:
    import json
    from dataclasses import fields

    from p2peval.bench.color_hist import ColorHistBenchOptions, run_benchmark

    opts = ColorHistBenchOptions(**{f.name: getattr(args, f.name) for f in fields(ColorHistBenchOptions)})
    out = run_benchmark(opts)
    print(json.dumps({k: v for k, v in out.items() if k != "seconds"}, indent=2))
    return 0
