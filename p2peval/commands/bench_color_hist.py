"""``p2peval bench color-hist``: megapixels/s of color-hist end to end against decoding alone."""

from __future__ import annotations

HELP = ("Benchmark color-hist on a generated folder of PNG images: megapixels/s end to end (decode, "
        "sRGB->Lab, histograms, bootstrap and score) and for decoding alone through the same worker "
        "pool; medians of --repeats runs, measured in one process. Target: end to end >= 0.8 x decoding.")
EXAMPLES = ("  p2peval bench color-hist --out results/benchmarks\n"
            "  p2peval bench color-hist --images 400 --size 256 --workers 2 --repeats 5")


def add_arguments(p) -> None:
    p.add_argument("--out", default="results/benchmarks", help="folder for color_hist.json")
    p.add_argument("--images", type=int, default=200, help="images in the generated folder (default 200)")
    p.add_argument("--size", type=int, default=256, help="image side in pixels (default 256)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: as color-hist)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3, help="runs per measurement (median reported)")
    p.add_argument("--seed", type=int, default=0)


def _decode_batch(task):
    """Worker: decode only (the same reader as color-hist), return pixel counts."""
    from p2peval.errors import P2PError
    from p2peval.imageio import read_rgb

    paths, _ = task
    try:
        return "ok", [_pixels(read_rgb(p)) for p in paths]
    except P2PError as e:
        return "error", str(e)


def _pixels(rgb) -> int:
    return int(rgb.shape[0] * rgb.shape[1])


def _make_images(folder, n: int, size: int, seed: int) -> None:
    """Photo-like PNGs: smooth colour fields plus texture noise (so PNG decoding does real work)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(n):
        f = rng.uniform(1, 6, (3, 2))
        ph = rng.uniform(0, 6.3, (3, 2))
        base = np.stack([0.5 + 0.5 * np.sin(f[c, 0] * 6.3 * xx + ph[c, 0]) * np.cos(f[c, 1] * 6.3 * yy + ph[c, 1])
                         for c in range(3)], -1) * 255
        img = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(folder / f"{i:05d}.png")


def run(args) -> int:
    import json
    import statistics
    import tempfile
    import time
    from pathlib import Path

    from p2peval.color_hist import (count_images, default_workers, find_images, map_batches,
                                    score_from_hists)
    from p2peval.errors import ConfigError
    from p2peval.metrics.color import LabBins, lab_kernel
    from p2peval.scorefile import write_json_atomic

    if args.images < 2 or args.size < 8 or args.repeats < 1:
        raise ConfigError("need --images >= 2, --size >= 8, --repeats >= 1")
    workers = default_workers(args.images, args.batch_size) if args.workers is None else args.workers
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _make_images(folder, args.images, args.size, args.seed)
        images = find_images(folder, "results")
        mpix = args.images * args.size * args.size / 1e6
        tasks = [([str(p) for p in images.paths[s:s + args.batch_size]], None)
                 for s in range(0, len(images), args.batch_size)]
        bins = LabBins()
        ref = count_images(images, bins, workers=0, show_progress=False)
        decode, end2end, counting = [], [], []
        for _ in range(args.repeats):  # interleaved, so a load spike hits both alike
            t0 = time.perf_counter()
            n_px = sum(sum(b) for b in map_batches(_decode_batch, tasks, workers))
            decode.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            res = count_images(images, bins, workers=workers, batch_size=args.batch_size, show_progress=False)
            t1 = time.perf_counter()
            score_from_hists(res, ref, label="bench", n_resamples=1000)
            end2end.append(time.perf_counter() - t0)
            counting.append(t1 - t0)
        assert n_px == args.images * args.size * args.size
    med = {k: statistics.median(v) for k, v in (("decode", decode), ("end_to_end", end2end), ("count", counting))}
    out = {
        "benchmark": "color-hist",
        "command": "p2peval bench color-hist " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in (("images", args.images), ("size", args.size),
                                                        ("workers", workers), ("batch_size", args.batch_size),
                                                        ("repeats", args.repeats))),
        "images": args.images, "image_size": [args.size, args.size], "megapixels": mpix,
        "workers": workers, "batch_size": args.batch_size, "repeats": args.repeats,
        "decode_only_mpix_per_s": mpix / med["decode"],
        "end_to_end_mpix_per_s": mpix / med["end_to_end"],
        "decode_and_histograms_mpix_per_s": mpix / med["count"],
        "ratio_end_to_end_to_decode": med["decode"] / med["end_to_end"],
        "target_ratio": 0.8,
        "lab_kernel": lab_kernel(),
        "seconds": {"decode": decode, "end_to_end": end2end, "decode_and_histograms": counting},
        "end_to_end_includes": "worker start, decode, sRGB->Lab, per-image histograms, gather, "
                               "intersection and a 1000-resample bootstrap",
        "decode_includes": "worker start, read_rgb of every file through the same pool, gather",
        "cpu_count": __import__("os").cpu_count(),
        "note": "medians of interleaved runs on a shared machine",
    }
    path = write_json_atomic(Path(args.out) / "color_hist.json", out)
    print(json.dumps({k: v for k, v in out.items() if k != "seconds"}, indent=2))
    print(f"-> {path}")
    return 0
