"""The FCN-score confusion matrix, with the reference evaluator's quirks (docs/reference.md 1.7-1.9).

Per frame we keep an *extended* matrix ``ext`` of shape (19, 20): rows are ground-truth train ids
0..18 (pixels with any other ground truth are not counted), columns are predictions 0..18 plus one
column for "predicted index >= 19" (the reference FCN-8s has 20 outputs). Both ways of scoring
are exact functions of the per-frame ``ext`` matrices:

* ``reference`` (protocol ``pix2pix``): the reference builds ``bincount(19*gt + pred)``, so a pixel
  predicted as 19 lands in ``hist[gt+1, 0]``; when its ground truth is 18 (bicycle) the bincount
  has 362 entries, the reshape to 19x19 fails and the whole frame is dropped.
* ``strict`` (protocol ``pix2pix-strict``): a pixel predicted as 19 is an error of its row.

Scores (docs/reference.md 1.8): per-pixel accuracy = trace / (sum + 1e-12); per-class accuracy and
class IoU are means over all 19 classes with the epsilon, so an absent class counts as 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from p2peval.data.labels import NUM_CLASSES

EPS = 1e-12
Mode = Literal["reference", "strict"]
METRICS = ("per_pixel_acc", "per_class_acc", "class_iou")
HIGHER_IS_BETTER = {m: True for m in METRICS}


def frame_confusion(gt, pred, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Extended confusion matrix (num_classes, num_classes + 1) of one frame (``_update``).

    ``gt``: (H, W) integer train ids (255 or anything outside 0..num_classes-1 is ignored).
    ``pred``: (H, W) integer predictions; values >= num_classes count in the last column.
    Accepts numpy arrays or torch tensors (on any device); returns int64 numpy.
    """
    n = num_classes
    if isinstance(gt, np.ndarray) or isinstance(pred, np.ndarray):
        gt = torch.from_numpy(np.ascontiguousarray(gt))
        pred = torch.from_numpy(np.ascontiguousarray(pred))
    if gt.shape != pred.shape:
        raise ValueError(f"ground truth {tuple(gt.shape)} and prediction {tuple(pred.shape)} differ")
    gt = gt.reshape(-1).long()
    pred = pred.reshape(-1).long().clamp(min=0, max=n)
    keep = (gt >= 0) & (gt < n)
    idx = gt[keep] * (n + 1) + pred[keep]
    counts = torch.bincount(idx, minlength=n * (n + 1))
    return counts.reshape(n, n + 1).cpu().numpy().astype(np.int64)


def batch_confusion_counts(gt, pred, num_classes: int = NUM_CLASSES, scatter: bool | None = None) -> torch.Tensor:
    """``frame_confusion`` of each frame of a batch, as a (B, num_classes, num_classes + 1) int64
    tensor on the batch's device: one counting pass, no per-frame boolean indexing, and on a GPU
    no synchronisation (scatter-add, where ``bincount`` would read the maximum back first), so the
    caller can read the result back later, while the next batch runs. ``scatter`` None picks
    scatter-add on CUDA and ``bincount`` elsewhere (both count the same)."""
    n = num_classes
    if gt.shape != pred.shape:
        raise ValueError(f"ground truth {tuple(gt.shape)} and prediction {tuple(pred.shape)} differ")
    b = gt.shape[0]
    cells = n * (n + 1)
    gt = gt.reshape(b, -1).long()
    pred = pred.reshape(b, -1).long().clamp(min=0, max=n)
    idx = torch.where((gt >= 0) & (gt < n), gt * (n + 1) + pred, cells)  # ignored: a spare cell
    idx += torch.arange(b, device=idx.device)[:, None] * (cells + 1)
    idx = idx.reshape(-1)
    if idx.is_cuda if scatter is None else scatter:
        counts = torch.zeros(b * (cells + 1), dtype=torch.int64, device=idx.device)
        counts.scatter_add_(0, idx, torch.ones_like(idx))
    else:
        counts = torch.bincount(idx, minlength=b * (cells + 1))
    return counts.reshape(b, cells + 1)[:, :cells].reshape(b, n, n + 1)


def frame_hists(ext: np.ndarray, mode: Mode) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame 19x19 matrices and per-frame extra row errors, for one or many frames.

    ``ext``: (..., n, n+1). Returns ``(hist, row_extra, dropped)``: ``hist`` (..., n, n) is what the
    chosen mode adds to the dataset matrix, ``row_extra`` (..., n) the pixels predicted as index
    >= n that count as errors of their row (strict mode only, else zeros), ``dropped`` (...) bool,
    True where the reference would have dropped the frame (reference mode only).
    """
    ext = np.asarray(ext, dtype=np.int64)
    n = ext.shape[-2]
    hist = ext[..., :n].copy()
    extra_col = ext[..., n]  # (..., n)
    if mode == "reference":
        # bincount(n*gt + n) == bincount(n*(gt+1) + 0): the pixel lands in hist[gt+1, 0] ...
        hist[..., 1:, 0] += extra_col[..., : n - 1]
        # ... and gt == n-1 overflows the n*n bins: the reshape fails, the frame is dropped.
        dropped = extra_col[..., n - 1] > 0
        hist = np.where(dropped[..., None, None], 0, hist)
        row_extra = np.zeros_like(extra_col)
    elif mode == "strict":
        dropped = np.zeros(extra_col.shape[:-1], dtype=bool)
        row_extra = extra_col
    else:
        raise ValueError(f"unknown confusion mode {mode!r}")
    return hist, row_extra, dropped


def scores_from_hist(hist: np.ndarray, row_extra: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Scores of one or many (..., n, n) dataset matrices (``_compute``).

    Returns per_pixel_acc, per_class_acc, class_iou (shape ...) and per-class arrays
    class_acc, class_iou_per_class (shape ..., n).
    """
    hist = np.asarray(hist, dtype=np.float64)
    diag = np.diagonal(hist, axis1=-2, axis2=-1)
    row = hist.sum(-1)
    if row_extra is not None:
        row = row + row_extra
    col = hist.sum(-2)
    acc_c = diag / (row + EPS)
    iou_c = diag / (row + col - diag + EPS)
    return {
        "per_pixel_acc": diag.sum(-1) / (row.sum(-1) + EPS),
        "per_class_acc": acc_c.mean(-1),
        "class_iou": iou_c.mean(-1),
        "class_acc": acc_c,
        "class_iou_per_class": iou_c,
    }


@dataclass
class ConfusionAccumulator:
    """Streaming FCN-score state: one extended matrix per frame (19x20 int64, 3 KB a frame).

    Frames are kept individually (not the images) so that scores can be bootstrapped over frames
    and so that distributed shards merge exactly whatever the order.
    """

    num_classes: int = NUM_CLASSES
    frame_ids: list[str] = field(default_factory=list)
    frames: list[np.ndarray] = field(default_factory=list)

    def update(self, frame_id: str, gt, pred) -> np.ndarray:
        ext = frame_confusion(gt, pred, self.num_classes)
        self.add(frame_id, ext)
        return ext

    def add(self, frame_id: str, ext: np.ndarray) -> None:
        self.frame_ids.append(frame_id)
        self.frames.append(np.asarray(ext, dtype=np.int64))

    def merge(self, other: "ConfusionAccumulator") -> None:
        for fid, ext in zip(other.frame_ids, other.frames):
            self.add(fid, ext)

    def stacked(self) -> np.ndarray:
        """(N, n, n+1) matrices in frame-id order, so the result never depends on arrival order."""
        n = self.num_classes
        if not self.frames:
            return np.zeros((0, n, n + 1), dtype=np.int64)
        order = np.argsort(np.array(self.frame_ids), kind="stable")
        return np.stack(self.frames)[order]

    def compute(self, mode: Mode) -> dict:
        return compute_scores(self.stacked(), mode)


def compute_scores(frames: np.ndarray, mode: Mode) -> dict:
    """Dataset-level scores from per-frame extended matrices (N, n, n+1)."""
    hist, row_extra, dropped = frame_hists(frames, mode)
    total_hist = hist.sum(0)
    total_extra = row_extra.sum(0)
    s = scores_from_hist(total_hist, total_extra if mode == "strict" else None)
    n = frames.shape[-2] if frames.ndim == 3 else NUM_CLASSES
    pred19 = frames[..., n].sum() if len(frames) else 0
    return {
        "per_pixel_acc": float(s["per_pixel_acc"]),
        "per_class_acc": float(s["per_class_acc"]),
        "class_iou": float(s["class_iou"]),
        "class_acc": s["class_acc"].tolist(),
        "class_iou_per_class": s["class_iou_per_class"].tolist(),
        "hist": total_hist.tolist(),
        "frames": int(len(frames)),
        "frames_dropped_by_reference_quirk": int(dropped.sum()),
        "pixels_counted": int(total_hist.sum() + total_extra.sum()),
        "pixels_predicted_index19": int(pred19),
        "frames_with_index19": int((frames[..., n].sum(-1) > 0).sum()) if len(frames) else 0,
    }


def bootstrap_scores(
    frames: np.ndarray,
    mode: Mode,
    n_resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict:
    """Bootstrap CIs over frames: resample frames, recompute the dataset scores, and take the
    symmetric interval (``p2peval.metrics.bootstrap``) around the dataset scores.

    Returns ``{metric: [lo, hi], metric_se, metric_bias}`` for the three headline metrics plus
    the settings.
    """
    from p2peval.metrics.bootstrap import bootstrap, summarise

    frames = np.asarray(frames, dtype=np.int64)
    n_frames = len(frames)
    out: dict = {"method": "symmetric bootstrap over frames", "n_resamples": n_resamples,
                 "seed": seed, "level": level}
    if n_frames == 0:
        return out
    hist, row_extra, _ = frame_hists(frames, mode)
    n = hist.shape[-1]
    flat = np.concatenate([hist.reshape(n_frames, -1), row_extra], axis=1).astype(np.float64)

    def stat(w):  # (b, N) frame multiplicities -> the pooled matrices' scores (b,)
        tot = w @ flat  # (b, n*n + n)
        s = scores_from_hist(tot[:, : n * n].reshape(-1, n, n), tot[:, n * n:] if mode == "strict" else None)
        return {m: s[m] for m in METRICS}

    reported = compute_scores(frames, mode)
    point = {m: reported[m] for m in METRICS}
    samples = bootstrap(stat, (n_frames,), paired=True, n_resamples=n_resamples, seed=seed)
    out.update(summarise(samples, point, level, bounds=(0.0, 1.0)))
    return out
