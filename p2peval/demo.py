"""The demo: the main job of p2peval on toy-city, end to end, in a few minutes on 2 CPU cores.

1. generate toy-city (train and val splits, Cityscapes layout);
2. train a small FCN-8s scorer the way the reference scorer was trained;
3. build one results folder per row: the real val photos at 256x256 (the "ground truth" row) and
   degraded versions of them (blurred, colour-shifted, the colour label images themselves);
4. FCN-score every row (protocol pix2pix) with bootstrap confidence intervals, write
   ``<out>/<row>.json`` and print one table;
5. the Lab colour histograms of every row against the real photos (``<out>/<row>.color-hist.json``),
   the comparison table of both metrics (``<out>/table.md``) and the colour plot
   (``<out>/color.png``).

Every step resumes: a rerun reuses the data, the finished scorer and the score files.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

ROW_NAMES = ("ground_truth", "blurred", "color_shifted", "color_labels")
ROW_LABELS = {
    "ground_truth": "ground truth (real photos at 256x256)",
    "blurred": "blurred (Gaussian, sigma 3 px at 256x256)",
    "color_shifted": "colour-shifted (channels rotated RGB->GBR)",
    "color_labels": "colour labels as photos",
}


@dataclass(frozen=True)
class DemoConfig:
    """Sizes of the demo (defaults: a few minutes on 2 CPU cores)."""

    n_train: int = 100
    n_val: int = 40
    size: int = 256  # toy-city pair size; photos and labels are size x 2*size
    native_height: int | None = 128  # label/photo height of the Cityscapes layout (None = size)
    arch: str = "fcn8s-tiny"
    steps: int = 300
    batch_size: int = 4
    lr: float = 3e-3
    crop: tuple[int, int] | None = None
    seed: int = 0
    n_resamples: int = 1000
    blur_sigma: float = 3.0
    device: str = "cpu"
    # One torch thread: the numbers then do not depend on the machine's core count (reductions
    # split over threads round differently), and a busy machine does not slow the demo down
    # by thread contention.
    threads: int = 1


def degrade_blur(rgb: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of each channel (scipy, reflect borders), back to uint8."""
    from scipy.ndimage import gaussian_filter

    out = gaussian_filter(rgb.astype(np.float32), sigma=(sigma, sigma, 0), mode="reflect")
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def degrade_color_shift(rgb: np.ndarray) -> np.ndarray:
    """Rotate the colour channels: R<-G, G<-B, B<-R (every hue moves by about 120 degrees)."""
    return np.ascontiguousarray(rgb[:, :, [1, 2, 0]])


def build_rows(root: Path, images: Path, generated_size: tuple[int, int], blur_sigma: float,
               show_progress: bool = True) -> dict[str, Path]:
    """Write one results folder per row under ``images``; existing complete folders are kept."""
    from p2peval.core.imageio import read_rgb, write_png
    from p2peval.core.progress import progress
    from p2peval.data.cityscapes import list_frames
    from p2peval.scorers.data import downsample_photo

    frames = list_frames(root, "val")
    folders = {row: images / row for row in ROW_NAMES}
    makers: dict[str, Callable] = {
        "ground_truth": lambda photo, color: photo,
        "blurred": lambda photo, color: degrade_blur(photo, blur_sigma),
        "color_shifted": lambda photo, color: degrade_color_shift(photo),
        "color_labels": lambda photo, color: color,
    }
    todo = [f for f in frames
            if not all((folders[r] / f"{f.id}_leftImg8bit.png").exists() for r in ROW_NAMES)]
    h, w = generated_size
    for f in progress(todo, total=len(todo), desc="demo rows", unit="frame", disable=not show_progress):
        photo = downsample_photo(read_rgb(f.image), (h, w))  # real photo as a 256x256 "result"
        color = np.asarray(_resize_nearest(read_rgb(f.color), (h, w)))
        for row, make in makers.items():
            write_png(folders[row] / f"{f.id}_leftImg8bit.png", make(photo, color), photo=True)
    return folders


def _resize_nearest(rgb: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    from PIL import Image
    return np.asarray(Image.fromarray(rgb).resize((size_hw[1], size_hw[0]), Image.NEAREST))


def _ensure_toycity(data: Path, cfg: DemoConfig, show_progress: bool) -> Path:
    """Generate toy-city into ``data``; the generator resumes and refuses other settings."""
    from p2peval.data.toycity import generate_toycity

    generate_toycity(data, cfg.n_train, cfg.n_val, size=cfg.size, seed=cfg.seed,
                     native_height=cfg.native_height, progress=show_progress)
    return data


def _score_row(folder: Path, score_path: Path, *, scorer: Path, root: Path, sha: str,
               cfg: DemoConfig, label: str, show_progress: bool) -> dict:
    """FCN-score one row, reusing an existing score file of the same scorer and inputs."""
    from p2peval.core.imageio import list_images
    from p2peval.report.scorefile import file_list_hash, read_score, write_score
    from p2peval.scoring.fcn_score import fcn_score
    from p2peval.scoring.options import Execution, GroundTruth, Intervals

    names = [p.name for p in list_images(folder)]
    if score_path.exists():
        old = read_score(score_path)
        if ((old.get("scorer") or {}).get("weights_sha256") == sha
                and (old.get("inputs") or {}).get("file_list_sha256") == file_list_hash(names)
                and (old.get("ci") or {}).get("n_resamples") == cfg.n_resamples):
            return old
    score = fcn_score(folder, scorer=scorer, truth=GroundTruth(cityscapes=root), protocol="pix2pix", label=label,
                      intervals=Intervals(cfg.n_resamples, cfg.seed),
                      run=Execution(device=cfg.device, show_progress=show_progress, partial=score_path, workers=0))
    write_score(score_path, score)
    from p2peval.core.partial_state import partial_path
    partial_path(score_path).unlink(missing_ok=True)
    return score


def _color_row(folder: Path, score_path: Path, reference, cfg: DemoConfig, label: str,
               show_progress: bool) -> dict:
    """Lab colour-histogram intersection of one row with the real photos (reused if present)."""
    from p2peval.report.scorefile import file_list_hash, read_score
    from p2peval.scoring.color_hist import color_hist, find_images

    if score_path.exists():
        old = read_score(score_path)
        keys = find_images(folder, "results").keys
        if ((old.get("inputs") or {}).get("file_list_sha256") == file_list_hash(keys)
                and (old.get("ci") or {}).get("n_resamples") == cfg.n_resamples):
            return old
    result = color_hist(folder, reference, label=label, n_resamples=cfg.n_resamples, seed=cfg.seed,
                        show_progress=show_progress, workers=1)
    result.write(score_path)
    return read_score(score_path)


def format_table(scores: dict[str, dict]) -> str:
    """Rows x (per-pixel acc, per-class acc, class IoU), each with its 95% CI."""
    head = f"{'row':<44} {'per-pixel acc':>22} {'per-class acc':>22} {'class IoU':>22}"
    lines = [head, "-" * len(head)]
    for row, s in scores.items():
        cells = []
        for m in ("per_pixel_acc", "per_class_acc", "class_iou"):
            lo, hi = s["ci"][m]
            cells.append(f"{s['values'][m]:.3f} [{lo:.3f}, {hi:.3f}]")
        lines.append(f"{ROW_LABELS.get(row, row):<44} " + " ".join(f"{c:>22}" for c in cells))
    level = next(iter(scores.values()))["ci"].get("level", 0.95)
    lines.append(f"[lo, hi]: {level:.0%} percentile bootstrap over frames")
    return "\n".join(lines)


def ordering_ok(scores: dict[str, dict]) -> bool:
    """Ground truth scores best on every metric, as it should."""
    gt = scores["ground_truth"]["values"]
    return all(s["values"][m] < gt[m] for row, s in scores.items() if row != "ground_truth"
               for m in ("per_pixel_acc", "class_iou"))


def run_demo(out: str | Path = "results/demo", *, n_train: int | None = None,
             n_val: int | None = None, size: int | None = None, steps: int | None = None,
             config: DemoConfig | None = None, show_progress: bool = True,
             file=None) -> dict:
    """Run the demo into ``out``; returns ``{"scores": {row: score}, "ordering_ok": bool, ...}``.

    ``n_train``, ``n_val``, ``size`` and ``steps`` override ``config`` (tests run a tiny demo).
    """
    import torch

    saved_threads = torch.get_num_threads()
    torch.set_num_threads((config or DemoConfig()).threads)
    try:
        return _run_demo(out, n_train=n_train, n_val=n_val, size=size, steps=steps, config=config,
                         show_progress=show_progress, file=file)
    finally:
        torch.set_num_threads(saved_threads)


def _run_demo(out, *, n_train, n_val, size, steps, config, show_progress, file) -> dict:
    from p2peval.scorers.train import ScorerTrainConfig, ScorerTrainRun, train_scorer

    file = file or sys.stdout
    cfg = config or DemoConfig()
    over = {k: v for k, v in dict(n_train=n_train, n_val=n_val, size=size, steps=steps).items()
            if v is not None}
    if "size" in over and cfg.native_height is not None and cfg.native_height > over["size"]:
        over["native_height"] = over["size"]
    cfg = DemoConfig(**{**asdict(cfg), **over})
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    timings = {}

    print(f"[1/5] toy-city: {cfg.n_train} train + {cfg.n_val} val frames -> {out / 'toycity'}", file=file, flush=True)
    data = _ensure_toycity(out / "toycity", cfg, show_progress)
    root = data / "cityscapes"
    timings["data_s"] = time.monotonic() - t0

    print(f"[2/5] scorer: {cfg.arch}, {cfg.steps} steps of batch {cfg.batch_size} -> {out / 'scorer.pt'}",
          file=file, flush=True)
    t = time.monotonic()
    meta = train_scorer(
        data, ScorerTrainConfig(arch=cfg.arch, steps=cfg.steps, batch_size=cfg.batch_size, lr=cfg.lr,
                                crop=cfg.crop, seed=cfg.seed, save_every=100),
        out=out / "scorer.pt",
        run=ScorerTrainRun(device=cfg.device, show_progress=show_progress, validate_each_epoch=False))
    timings["train_s"] = time.monotonic() - t

    print(f"[3/5] rows: real val photos at 256x256 and degraded versions -> {out / 'images'}",
          file=file, flush=True)
    t = time.monotonic()
    from p2peval.scoring.protocols import get_protocol
    folders = build_rows(root, out / "images", get_protocol("pix2pix").generated_size,
                         cfg.blur_sigma, show_progress)
    timings["rows_s"] = time.monotonic() - t

    print("[4/5] fcn-score (protocol pix2pix) of every row", file=file, flush=True)
    t = time.monotonic()
    scores = {}
    for row, folder in folders.items():
        scores[row] = _score_row(folder, out / f"{row}.json", scorer=out / "scorer.pt", root=root,
                                 sha=meta["weights_sha256"], cfg=cfg, label=ROW_LABELS[row],
                                 show_progress=show_progress)
    timings["score_s"] = time.monotonic() - t

    table = format_table(scores)
    ok = ordering_ok(scores)
    print("\nFCN-scores of toy-city val (scorer trained on toy-city; not comparable with published "
          "Cityscapes numbers)\n" + table, file=file)
    print(("ordering as expected: ground truth scores best" if ok else
           "WARNING: a degraded row scores at least as high as the ground truth; the scorer is "
           "too weak (train longer: more --steps)"), file=file, flush=True)

    print("\n[5/5] colour histograms (Lab) of every row against the real photos, comparison table "
          "and colour plot", file=file, flush=True)
    t = time.monotonic()
    from p2peval.report.tables import build_table, render
    from p2peval.scoring.color_hist import count_images, find_images, plot_color_hist

    reference = count_images(find_images(folders["ground_truth"], "reference"), workers=1,
                             show_progress=show_progress, desc="color-hist reference")
    colors = {row: _color_row(folder, out / f"{row}.color-hist.json", reference, cfg,
                              ROW_LABELS[row], show_progress) for row, folder in folders.items()}
    files = [out / f"{row}.json" for row in scores] + [out / f"{row}.color-hist.json" for row in colors]
    comparison = render(build_table(files, n_resamples=cfg.n_resamples, seed=cfg.seed), "md")
    (out / "table.md").write_text(comparison)
    plot_color_hist(list(colors.values()), out / "color.png",
                    title="demo rows: Lab marginals (dotted: real photos)")
    timings["color_s"] = time.monotonic() - t
    timings["total_s"] = time.monotonic() - t0
    print("\n" + comparison, file=file)
    summary = {"config": asdict(cfg), "scorer": str(out / "scorer.pt"),
               "scorer_sha256": meta["weights_sha256"],
               "rows": {row: str(out / f"{row}.json") for row in scores}, "ordering_ok": ok,
               "timings_s": {k: round(v, 1) for k, v in timings.items()},
               "command": "p2peval demo --out " + str(out)}
    from p2peval.report.scorefile import write_json_atomic
    write_json_atomic(out / "demo.json", summary)
    (out / "table.txt").write_text(table + "\n")
    print(f"wrote in {out}: <row>.json (FCN-score), <row>.color-hist.json, table.txt (FCN-scores), "
          f"table.md (both metrics), color.png, demo.json  ({timings['total_s']:.0f} s)", file=file)
    return {"scores": scores, "ordering_ok": ok, "table": table, "timings": timings, "out": out}
