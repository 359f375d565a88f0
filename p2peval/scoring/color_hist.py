"""Colour-distribution score of results folders against a reference set (the paper's Figure 7).

For each folder: every image is decoded (in worker processes) and reduced at once to its integer
Lab histogram (``p2peval.metrics.color.lab_bin_counts``); only these per-image counts are kept
(L.n + a.n + b.n int32 per image: 2.4 KB with the default bins), so memory does not depend on the
image sizes and grows by 2.4 KB per image, which the bootstrap over images needs. Pooled
histograms are normalised by the pixel count and compared with the reference's by histogram
intersection per channel, with a bootstrap CI over images (the symmetric interval of
``p2peval.metrics.bootstrap``).

Which images: in a folder holding pix2pix outputs (``*_fake_B.png``) only those are results, and
in a reference folder holding ``*_real_B.png`` only those are reference (the same folder may be
both); otherwise every image directly in the folder. A reference may also be a Cityscapes root or
a toy-city folder: then its ``leftImg8bit/<split>`` photos are used.

Pairing: an image's key is its name without ``_fake_B``/``_real_B``/``_real_A`` and, for
Cityscapes names, without ``_leftImg8bit``. When results and reference have exactly the same keys
the bootstrap resamples the same images on both sides ("paired"); otherwise the two sets are
resampled independently ("sets") and the score file says how many names matched.

Per-image counts go to a sidecar ``<score>.frames.npz`` (key ``frames_file`` of the score file),
which ``p2peval table`` reads for paired significance between rows scored on the same images.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from p2peval.core.atomic import atomic_path
from p2peval.core.errors import ConfigError, InputError, P2PError
from p2peval.data.manifest import folder_label
from p2peval.metrics.color import (
    CHANNELS,
    LabBins,
    intersection_from_counts,
    lab_bin_counts,
    lab_kernel,
    split_channels,
)

METRIC = "color-hist"
_CS_ID = re.compile(r"^(.+?_\d{6}_\d{6})(?:_leftImg8bit)?$")
_PIX2PIX_SUFFIXES = ("_fake_B", "_real_B", "_real_A")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def image_key(name: str) -> str:
    """Pairing key of an image file name (see the module docstring)."""
    stem = Path(name).stem
    for suffix in _PIX2PIX_SUFFIXES:
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    m = _CS_ID.match(stem)
    return m.group(1) if m else stem


@dataclass
class ImageSet:
    """The images of one side of a comparison, sorted by key."""

    folder: Path
    paths: list[Path]
    keys: list[str]
    selection: str  # how the files were chosen, for the score file

    def __len__(self) -> int:
        return len(self.paths)


def _flat_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                  and not p.name.startswith("."))


def _cityscapes_photos(folder: Path, split: str) -> Path | None:
    for root in (folder, folder / "cityscapes"):
        d = root / "leftImg8bit" / split
        if d.is_dir():
            return d
    return None


def find_images(folder: str | Path, role: str, split: str = "val") -> ImageSet:
    """The images of a results folder (``role="results"``) or a reference (``"reference"``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("no such folder", folder)
    files = _flat_images(folder)
    selection = "all images in the folder"
    tag = "_fake_B" if role == "results" else "_real_B"
    tagged = [p for p in files if p.stem.endswith(tag)]
    if tagged:
        files, selection = tagged, f"*{tag} images"
    elif not files and role == "reference":
        photos = _cityscapes_photos(folder, split)
        if photos is not None:
            files = sorted(p for p in photos.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            selection = f"Cityscapes photos {photos.relative_to(folder)}"
    if not files:
        what = "images" if role == "results" else f"images (nor a Cityscapes leftImg8bit/{split} folder)"
        raise InputError(f"no {what} found ({role})", folder)
    pairs = sorted((image_key(p.name), p) for p in files)
    return ImageSet(folder, [p for _, p in pairs], [k for k, _ in pairs], selection)


@dataclass
class ImageSetHist:
    """Per-image Lab counts of an image set."""

    images: ImageSet
    bins: LabBins
    counts: np.ndarray              # (N, bins.total) int32, one row per image in key order
    clipped: np.ndarray             # (3,) int64 pixels outside the bin ranges, per channel
    pixels: np.ndarray              # (N,) int64 pixels per image

    @property
    def pooled(self) -> np.ndarray:
        """(bins.total,) int64 counts over all images."""
        return self.counts.sum(0, dtype=np.int64)


def _count_batch(task: tuple[list[str], dict]) -> tuple[str, object]:
    """Worker: decode and count a batch of images. Returns ("ok", list) or ("error", message)."""
    from p2peval.core.imageio import read_rgb
    from p2peval.metrics.color import LabWorkspace

    paths, bins_dict = task
    bins = LabBins.from_dict(bins_dict)
    ws = LabWorkspace()  # scratch buffers shared by the batch's images
    out = []
    try:
        for p in paths:
            rgb = read_rgb(p)  # (H, W, 3) uint8; strict: refuses lossy conversions
            counts, clipped = lab_bin_counts(rgb, bins, ws)
            out.append((counts.astype(np.int32), clipped, rgb.shape[0] * rgb.shape[1]))
    except P2PError as e:
        return "error", str(e)
    return "ok", out


def default_workers(n_images: int, batch_size: int) -> int:
    """Worker processes: none for tiny sets, else up to 4 (bounded by the CPU count)."""
    if n_images <= 2 * batch_size:
        return 0
    return max(0, min(4, (os.cpu_count() or 1)))


def count_images(images: ImageSet, bins: LabBins | None = None, *, workers: int | None = None,
                 batch_size: int = 8, show_progress: bool = True, desc: str = "color-hist") -> ImageSetHist:
    """Decode every image (``workers`` processes, ``batch_size`` images per task) and count.

    Results never depend on ``workers`` or ``batch_size``: counts are integers kept per image.
    """
    from p2peval.core.progress import progress

    bins = bins or LabBins()
    if batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {batch_size}")
    n = len(images)
    workers = default_workers(n, batch_size) if workers is None else workers
    if workers < 0:
        raise ConfigError(f"--workers must be >= 0, got {workers}")
    tasks = [([str(p) for p in images.paths[s:s + batch_size]], bins.to_dict())
             for s in range(0, n, batch_size)]
    counts = np.zeros((n, bins.total), np.int32)
    pixels = np.zeros(n, np.int64)
    clipped = np.zeros(3, np.int64)
    bar = progress(total=n, desc=desc, unit="img", disable=not show_progress)
    try:
        i = 0
        for payload in map_batches(_count_batch, tasks, workers):
            for c, clip, px in payload:
                counts[i], pixels[i] = c, px
                clipped += clip
                i += 1
            bar.update(len(payload))
    finally:
        bar.close()
    return ImageSetHist(images, bins, counts, clipped, pixels)


def map_batches(func, tasks: list, workers: int):
    """Yield ``func(task)`` payloads in task order, from ``workers`` spawned processes (0 = here).

    ``func`` returns ("ok", payload) or ("error", message); an error stops everything and is
    raised as ``InputError`` (the message names the file). Workers never outlive the generator.
    """
    from p2peval.core.parallel import process_map

    for status, payload in process_map(func, tasks, workers if workers > 0 else 0):
        if status == "error":
            raise InputError(str(payload))
        yield payload


@dataclass
class ColorHistResult:
    """A color-hist score object plus the per-image counts behind it (for the sidecar)."""

    score: dict
    results: ImageSetHist
    reference: ImageSetHist
    frames: dict = field(default_factory=dict)

    def write(self, path: str | Path) -> Path:
        """Write the score JSON and its ``.frames.npz`` sidecar (both atomically)."""
        from p2peval.report.scorefile import write_score

        frames = {"ids": np.array(self.results.images.keys), "counts": self.results.counts,
                  "ref_ids": np.array(self.reference.images.keys), "ref_counts": self.reference.counts,
                  "bins": np.array(json.dumps(self.results.bins.to_dict()))}
        written = write_score(path, dict(self.score, frames=frames))  # sidecar <stem>.frames.npz
        self.score = dict(self.score, frames_file=Path(path).stem + ".frames.npz")
        return written


def pairing(results: ImageSet, reference: ImageSet) -> tuple[bool, str]:
    """(paired?, explanation): paired when both sides have exactly the same image keys."""
    rk, fk = set(results.keys), set(reference.keys)
    if len(rk) == len(results.keys) and len(fk) == len(reference.keys) and rk == fk:
        return True, f"paired by name ({len(rk)} images)"
    common = len(rk & fk)
    return False, (f"compared as sets: {common} of {len(results)} result names match "
                   f"the {len(reference)} reference names")


def score_from_hists(res: ImageSetHist, ref: ImageSetHist, *, label: str, n_resamples: int = 1000,
                     seed: int = 0, level: float = 0.95) -> ColorHistResult:
    """Intersection per channel, bootstrap CI over images, and the score object."""
    from p2peval.metrics.bootstrap import bootstrap, summarise
    from p2peval.report.scorefile import file_list_hash, make_score

    bins = res.bins
    if ref.bins != bins:
        raise ConfigError("results and reference were counted with different bins")
    paired, how = pairing(res.images, ref.images)
    values = {ch: float(v) for ch, v in intersection_from_counts(res.pooled, ref.pooled, bins).items()}
    rc = res.counts.astype(np.float64)
    fc = ref.counts.astype(np.float64)

    def stat(w_res, w_ref):  # (b, N) weights -> pooled counts (b, total) -> intersections (b,)
        return intersection_from_counts(w_res @ rc, w_ref @ fc, bins)

    ci: dict = {"method": "symmetric bootstrap over images" + (" (paired by name)" if paired else
                                                                 " (results and reference resampled independently)"),
                "n_resamples": n_resamples, "seed": seed, "level": level}
    if n_resamples > 0:
        samples = bootstrap(stat, (len(res.images), len(ref.images)), paired=paired,
                            n_resamples=n_resamples, seed=seed)
        ci.update(summarise(samples, values, level, bounds=(0.0, 1.0)))
    hists = {side: {ch: v.tolist() for ch, v in split_channels(h.pooled, bins).items()}
             for side, h in (("results", res), ("reference", ref))}
    score = make_score(
        METRIC, values, {ch: True for ch in CHANNELS}, label=label, ci=ci,
        counts={"images": len(res.images), "pixels": int(res.pixels.sum()),
                "reference_images": len(ref.images), "reference_pixels": int(ref.pixels.sum()),
                "clipped_pixels": {ch: int(v) for ch, v in zip(CHANNELS, res.clipped)},
                "reference_clipped_pixels": {ch: int(v) for ch, v in zip(CHANNELS, ref.clipped)},
                "skipped": 0},
        protocol={"name": "lab-histogram",
                  "conversion": "sRGB (IEC 61966-2-1) -> XYZ (D65) -> CIE Lab, D65 white (0.95047, 1, 1.08883), 2-degree observer",
                  "histogram": "per channel over all pixels of all images, divided by the pixel count",
                  "comparison": "histogram intersection sum(min(p, q)) per channel",
                  "bins": bins.to_dict(),
                  "kernel": lab_kernel(),
                  "clipping": "values below lo go to the first bin, values >= hi to the last",
                  "comparable_with_published": False},
        inputs={"results": str(res.images.folder), "n_files": len(res.images),
                "file_list_sha256": file_list_hash(res.images.keys), "selection": res.images.selection,
                "reference": str(ref.images.folder), "reference_n_files": len(ref.images),
                "reference_file_list_sha256": file_list_hash(ref.images.keys),
                "reference_selection": ref.images.selection,
                "pairing": "paired" if paired else "sets", "pairing_detail": how},
        bins=bins.to_dict(), histograms=hists)
    return ColorHistResult(score, res, ref)


def color_hist(results: str | Path, reference: str | Path | ImageSetHist, *, bins: LabBins | None = None,
               label: str | None = None, workers: int | None = None, batch_size: int = 8,
               n_resamples: int = 1000, seed: int = 0, level: float = 0.95, split: str = "val",
               show_progress: bool = True) -> ColorHistResult:
    """Score one results folder against a reference folder (or precomputed reference counts).

    Returns a ``ColorHistResult``; ``.score`` is the score object and ``.write(path)`` writes it
    with its per-image sidecar. Pass ``reference=count_images(find_images(REF, "reference"))`` to
    score several folders against one reference without decoding it again.
    """
    bins = bins or (reference.bins if isinstance(reference, ImageSetHist) else LabBins())
    if not (0 < level < 1):
        raise ConfigError(f"--level must be in (0, 1), got {level}")
    if n_resamples < 0:
        raise ConfigError(f"--n-resamples must be >= 0, got {n_resamples}")
    res_images = find_images(results, "results")
    if isinstance(reference, ImageSetHist):
        ref = reference
    else:
        ref = count_images(find_images(reference, "reference", split), bins, workers=workers,
                           batch_size=batch_size, show_progress=show_progress, desc="color-hist reference")
    res = count_images(res_images, bins, workers=workers, batch_size=batch_size,
                       show_progress=show_progress, desc=f"color-hist {Path(results).name}")
    return score_from_hists(res, ref, label=label or folder_label(results), n_resamples=n_resamples,
                            seed=seed, level=level)


def read_frames(score: dict, score_path: str | Path) -> dict[str, np.ndarray] | None:
    """The per-image counts of a color-hist score file's sidecar, or None when it has none."""
    from p2peval.report.scorefile import read_sidecar

    return read_sidecar(score, score_path)


def color_hist_figure(scores: list[dict], title: str | None = None):
    """The paper's Figure 7 style plot as a matplotlib figure: log probability of each Lab
    channel's marginal for every score (solid, one curve per score in order) and for the
    reference (dotted, taken from the first score, last curve of each axis)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not scores:
        raise ConfigError("nothing to plot: no color-hist scores")
    for s in scores:
        if s.get("metric") != METRIC or "histograms" not in s:
            raise InputError(f"not a color-hist score with histograms (metric {s.get('metric')!r})",
                             s.get("_path"))
    bins = LabBins.from_dict(scores[0]["bins"])
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    ref = scores[0]["histograms"]["reference"]
    for ax, ch in zip(axes, CHANNELS):
        centers = bins.channel(ch).centers()
        for s in scores:
            h = np.asarray(s["histograms"]["results"][ch], np.float64)
            p = h / max(h.sum(), 1)
            with np.errstate(divide="ignore"):
                ax.plot(centers, np.log(p), lw=1.2, label=f"{s.get('label')} ({s['values'][ch]:.3f})")
        r = np.asarray(ref[ch], np.float64)
        with np.errstate(divide="ignore"):
            ax.plot(centers, np.log(r / max(r.sum(), 1)), "k:", lw=1.5, label="reference")
        ax.set_xlabel(ch)
        ax.set_ylabel(f"log P({ch})")
        ax.set_title(f"{ch} (intersection in legend)")
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_color_hist(scores: list[dict], out: str | Path, title: str | None = None) -> Path:
    """Write ``color_hist_figure(scores, title)`` to ``out`` (PNG, 110 dpi, atomically)."""
    import matplotlib.pyplot as plt

    fig = color_hist_figure(scores, title)
    out = Path(out)
    with atomic_path(out, ".png") as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return out
