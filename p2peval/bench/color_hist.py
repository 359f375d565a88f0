"""``p2peval bench color-hist``: megapixels/s of color-hist end to end against decoding alone."""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class ColorHistBenchOptions:
    """The settings of one benchmark run (the command's options)."""

    out: str = "results/benchmarks"
    images: int = 200
    size: int = 256
    workers: int | None = None
    batch_size: int = 8
    repeats: int = 3
    seed: int = 0




def _decode_batch(task):
    """Worker: decode only (the same reader as color-hist), return pixel counts."""
    from p2peval.core.errors import P2PError
    from p2peval.core.imageio import read_rgb

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


def run_benchmark(opts: ColorHistBenchOptions) -> dict:
    import statistics
    import tempfile
    import time
    from pathlib import Path

    from p2peval.core.atomic import write_json_atomic
    from p2peval.core.errors import ConfigError
    from p2peval.metrics.color import LabBins, lab_kernel
    from p2peval.scoring.color_hist import (
        count_images,
        default_workers,
        find_images,
        map_batches,
        score_from_hists,
    )

    if opts.images < 2 or opts.size < 8 or opts.repeats < 1:
        raise ConfigError("need --images >= 2, --size >= 8, --repeats >= 1")
    workers = default_workers(opts.images, opts.batch_size) if opts.workers is None else opts.workers
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _make_images(folder, opts.images, opts.size, opts.seed)
        images = find_images(folder, "results")
        mpix = opts.images * opts.size * opts.size / 1e6
        tasks = [([str(p) for p in images.paths[s:s + opts.batch_size]], None)
                 for s in range(0, len(images), opts.batch_size)]
        bins = LabBins()
        ref = count_images(images, bins, workers=0, show_progress=False)
        decode, end2end, counting = [], [], []
        for _ in range(opts.repeats):  # interleaved, so a load spike hits both alike
            t0 = time.perf_counter()
            n_px = sum(sum(b) for b in map_batches(_decode_batch, tasks, workers))
            decode.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            res = count_images(images, bins, workers=workers, batch_size=opts.batch_size, show_progress=False)
            t1 = time.perf_counter()
            score_from_hists(res, ref, label="bench", n_resamples=1000)
            end2end.append(time.perf_counter() - t0)
            counting.append(t1 - t0)
        assert n_px == opts.images * opts.size * opts.size
    med = {k: statistics.median(v) for k, v in (("decode", decode), ("end_to_end", end2end), ("count", counting))}
    out = {
        "benchmark": "color-hist",
        "command": "p2peval bench color-hist " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in (("images", opts.images), ("size", opts.size),
                                                        ("workers", workers), ("batch_size", opts.batch_size),
                                                        ("repeats", opts.repeats))),
        "images": opts.images, "image_size": [opts.size, opts.size], "megapixels": mpix,
        "workers": workers, "batch_size": opts.batch_size, "repeats": opts.repeats,
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
    path = write_json_atomic(Path(opts.out) / "color_hist.json", out)
    print(f"-> {path}", file=sys.stderr)
    return out
