"""Figures of the report and the demo: per-class bars, per-frame accuracy distributions, sample
sheets, and PNG encoding of figures and images (for files and for data URIs).

matplotlib runs on its Agg backend (no display). Figure functions return the figure, so callers
and tests can read what it shows before it is saved.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from p2peval.data.labels import CLASS_NAMES

GAP = 2       # pixels between the cells of a sample sheet
HEADER = 16   # pixels of column titles above the cells


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_png(fig, dpi: int = 100) -> bytes:
    """The figure as PNG bytes; the figure is closed."""
    plt = _pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()


def image_png(rgb: np.ndarray) -> bytes:
    """An (H, W[, 3]) uint8 array as PNG bytes."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="PNG")
    return buf.getvalue()


def class_bars_figure(rows: list[tuple[str, dict]]):
    """Per-class IoU (top) and accuracy (bottom) of every row: one bar per row and class.

    ``rows``: (label, ``per_class`` of an FCN-score file: ``names``, ``iou``, ``acc``).
    """
    plt = _pyplot()
    names = list(rows[0][1].get("names") or CLASS_NAMES)
    x = np.arange(len(names))
    width = 0.8 / len(rows)
    fig, axes = plt.subplots(2, 1, figsize=(12, 6.5), sharex=True)
    for ax, key, title in zip(axes, ("iou", "acc"), ("class IoU", "class accuracy")):
        for i, (label, per_class) in enumerate(rows):
            ax.bar(x + (i - (len(rows) - 1) / 2) * width, np.asarray(per_class[key], np.float64),
                   width, label=label)
        ax.set_ylabel(title)
        ax.set_ylim(0, 1)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8, ncol=min(4, len(rows)))
    axes[1].set_xticks(x, names, rotation=45, ha="right")
    fig.tight_layout()
    return fig


def frame_accuracy_figure(rows: list[tuple[str, np.ndarray]]):
    """Distribution of per-frame pixel accuracy: one box per row with every frame as a dot."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(5.0, 1.4 * len(rows) + 2), 3.8))
    data = [np.asarray(acc, np.float64)[np.isfinite(acc)] for _, acc in rows]
    ax.boxplot(data, showfliers=False)
    rng = np.random.default_rng(0)  # horizontal jitter of the dots only
    for i, acc in enumerate(data, 1):
        ax.plot(i + rng.uniform(-0.15, 0.15, len(acc)), acc, "o", ms=3, alpha=0.6)
    ax.set_xticks(np.arange(1, len(rows) + 1), [label for label, _ in rows], rotation=20, ha="right")
    ax.set_ylabel("per-frame pixel accuracy")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def _fit(rgb: np.ndarray, cell: int) -> np.ndarray:
    """``rgb`` as a cell x cell RGB image (nearest neighbour, so label colours stay exact)."""
    from PIL import Image

    rgb = np.asarray(rgb)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[:, :, None], 3, axis=2)
    if rgb.shape[:2] != (cell, cell):
        rgb = np.asarray(Image.fromarray(rgb[:, :, :3]).resize((cell, cell), Image.NEAREST))
    return rgb[:, :, :3]


def cell_origin(row: int, col: int, cell: int) -> tuple[int, int]:
    """(y, x) of the top-left pixel of a sample-sheet cell."""
    return HEADER + row * (cell + GAP), col * (cell + GAP)


def sample_sheet(columns: list[tuple[str, list[np.ndarray]]], cell: int) -> np.ndarray:
    """A grid of images, one column per (title, images), one row per frame, white gaps of
    ``GAP`` pixels and the titles in a ``HEADER``-pixel strip on top. Images that are not
    ``cell`` x ``cell`` are resized with nearest neighbour."""
    from PIL import Image, ImageDraw

    n_rows = len(columns[0][1])
    if any(len(images) != n_rows for _, images in columns):
        raise ValueError("sample_sheet: every column needs the same number of images")
    h = HEADER + n_rows * (cell + GAP) - GAP
    w = len(columns) * (cell + GAP) - GAP
    sheet = np.full((h, w, 3), 255, np.uint8)
    for c, (_, images) in enumerate(columns):
        for r, img in enumerate(images):
            y, x = cell_origin(r, c, cell)
            sheet[y:y + cell, x:x + cell] = _fit(img, cell)
    pil = Image.fromarray(sheet)
    draw = ImageDraw.Draw(pil)
    for c, (title, _) in enumerate(columns):
        _, x = cell_origin(0, c, cell)
        draw.text((x + 2, 2), title[: max(1, cell // 6)], fill=(0, 0, 0))  # PIL's built-in font
    out = np.asarray(pil).copy()
    out[HEADER:] = sheet[HEADER:]  # the text stays in the header strip
    return out


def write_png_file(path: str | Path, data: bytes) -> Path:
    """Write PNG bytes atomically."""
    from p2peval.core.atomic import write_bytes_atomic

    return write_bytes_atomic(path, data)
