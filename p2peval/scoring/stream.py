"""The streaming scoring loop shared by fcn-score and label-score, and the score it builds.

DataLoader workers decode and resize (``p2peval.data.datasets``), the device preprocesses, runs the
scorer, takes the argmax and builds each frame's (19, 20) confusion matrix; only those matrices are
kept (3 KB a frame), for the dataset scores and a bootstrap over frames. Frames are sorted by id
before reducing, so batch size, worker count and process count never change a result. Under
``torchrun`` frames are sharded by rank and the matrices gathered.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import torch

from p2peval.core.distributed import DistContext, gather_objects
from p2peval.core.errors import ConfigError, InputError
from p2peval.core.partial_state import SIDE_COUNTS, PartialState
from p2peval.data.datasets import ScoringDataset, make_loader
from p2peval.data.labels import CLASS_NAMES
from p2peval.data.manifest import folder_label, read_manifest
from p2peval.data.pairing import (
    GroundTruth,
    Pairing,
    ground_truth_from_cityscapes,
    ground_truth_from_folder,
)
from p2peval.metrics.confusion import (
    HIGHER_IS_BETTER,
    METRICS,
    ConfusionAccumulator,
    batch_confusion_counts,
    bootstrap_scores,
    compute_scores,
)
from p2peval.report.scorefile import file_list_hash, make_score
from p2peval.scoring.protocols import Protocol

SAVE_EVERY = 25  # frames between saves of the partial state


@dataclass
class StreamResult:
    """What the scoring loop keeps: per-frame matrices and side counts (all ranks merged)."""

    acc: ConfusionAccumulator
    side: dict[str, int] = field(default_factory=lambda: {k: 0 for k in SIDE_COUNTS})
    resumed_frames: int = 0
    seconds: float = 0.0


# ---------------------------------------------------------------- inputs

def resolve_ground_truth(cityscapes, labels, split: str) -> tuple[list[GroundTruth], dict]:
    """Ground-truth frames from exactly one of a Cityscapes root or a labels folder."""
    if (cityscapes is None) == (labels is None):
        raise ConfigError("give exactly one of --cityscapes ROOT or --labels DIR")
    if cityscapes is not None:
        from p2peval.data.cityscapes import find_cityscapes_root
        root = find_cityscapes_root(cityscapes)
        return ground_truth_from_cityscapes(root, split), {
            "source": "cityscapes gtFine labelIds", "root": str(root), "split": split}
    return ground_truth_from_folder(labels), {"source": "label images", "folder": str(labels)}


def warn(msg: str) -> None:
    print(f"p2peval: warning: {msg}", file=sys.stderr)


# ---------------------------------------------------------------- the scoring loop

def _batches(items: list[dict]) -> Iterable[list[dict]]:
    """Consecutive items of equal input size, as batches."""
    group: list[dict] = []
    for it in items:
        if group and tuple(group[0]["input"].shape) != tuple(it["input"].shape):
            yield group
            group = []
        group.append(it)
    if group:
        yield group


def stream_confusion(dataset: ScoringDataset, predict: Callable[[torch.Tensor], torch.Tensor], *,
                     device: str, batch_size: int, workers: int, state: PartialState,
                     show_progress: bool = True, desc: str = "scoring",
                     on_batch: Callable[[int], None] | None = None) -> StreamResult:
    """Run ``predict`` ((B, H, W[, 3]) uint8 on device -> (B, H, W) class ids) over ``dataset``.

    Frames already in ``state`` are skipped (resume); ``state`` is saved every ``SAVE_EVERY``
    frames. Bad files stop the run with ``InputError`` naming the file.
    """
    from p2peval.core.progress import progress

    t0 = time.perf_counter()
    loader = scoring_loader(dataset, device=device, batch_size=batch_size, workers=workers)
    bar = progress(total=len(dataset.pairs) + len(state.frame_ids), desc=desc, unit="frame",
                   disable=not show_progress)
    if state.frame_ids:
        bar.update(len(state.frame_ids))
    try:
        _consume(loader, predict, device, state, bar, on_batch)
    finally:
        state.save()  # also when a bad file or an interrupt stops the run: rerun to resume
    bar.close()
    acc = ConfusionAccumulator()
    for fid, ext in zip(state.frame_ids, state.frames):
        acc.add(fid, ext)
    side = {k: int(sum(v)) for k, v in state.side.items()}
    return StreamResult(acc, side, seconds=time.perf_counter() - t0)


def scoring_loader(dataset: ScoringDataset, *, device: str, batch_size: int,
                   workers: int) -> torch.utils.data.DataLoader:
    """The loader of the scoring loop: items pinned by the loader where the device is CUDA."""
    return make_loader(dataset, batch_size=batch_size, workers=workers, pin_memory=device.startswith("cuda"))


def check_items(items: list[dict]) -> None:
    """Raise the ``InputError`` of the first bad file among a loader batch's items."""
    for it in items:
        if "error" in it:
            raise InputError(it["error"][0])


def device_batches(items: list[dict], device: str) -> Iterator[tuple[list[dict], torch.Tensor, torch.Tensor]]:
    """A loader batch as (items, input, ground truth) batches of equal size on ``device``."""
    for group in _batches(items):
        yield (group, _to_device([it["input"] for it in group], device),
               _to_device([it["gt"] for it in group], device))


def _to_device(tensors: list[torch.Tensor], device: str) -> torch.Tensor:
    """Batch and copy to ``device`` without blocking. A batch of one is a view of its item, which
    the loader pinned (on CUDA), so the copy is asynchronous; a stacked batch is a fresh tensor.

    Pinning every stacked batch instead was measured on an H200 at 0.75x of the forward rate at
    1024x2048 (an extra 8 MB host copy per frame), against 0.83x with stacked, unpinned batches."""
    x = tensors[0].unsqueeze(0) if len(tensors) == 1 else torch.stack(tensors)
    return x.to(device, non_blocking=True)


def _consume(loader, predict, device: str, state: PartialState, bar, on_batch) -> None:
    """Score every batch. The confusion counts of a batch are read back only after the next batch
    is queued, so on a GPU the host prepares batch k+1 while batch k runs."""
    since_save = 0
    pending: tuple[list[dict], torch.Tensor] | None = None

    def finish() -> None:
        nonlocal pending
        if pending is not None:
            group, counts = pending
            pending = None
            for it, ext in zip(group, counts.cpu().numpy().astype(np.int64)):
                state.add(it["key"], ext, it)

    for items in loader:
        try:
            check_items(items)
        except InputError:
            finish()  # keep the frames scored so far for a resume
            raise
        for group, x, gts in device_batches(items, device):
            counts = batch_confusion_counts(gts, predict(x))  # (B, 19, 20), not yet read back
            finish()
            pending = (group, counts)
        bar.update(len(items))
        since_save += len(items)
        if on_batch is not None:
            on_batch(len(items))
        if since_save >= SAVE_EVERY:
            finish()
            state.save()
            since_save = 0
    finish()


def gather_result(result: StreamResult, ctx: DistContext, error: str | None = None) -> StreamResult:
    """Merge every rank's frames (sorted by id later, so arrival order does not matter).

    A rank that met a bad file still joins the gather (others would wait forever); then every
    rank raises the first error.
    """
    parts = gather_objects((result.acc.frame_ids, result.acc.frames, result.side,
                            result.resumed_frames, error), ctx)
    errors = [p[4] for p in parts if p[4]]
    if errors:
        raise InputError(errors[0])
    acc = ConfusionAccumulator()
    side = {k: 0 for k in SIDE_COUNTS}
    resumed = 0
    for ids, frames, s, r, _ in parts:
        for fid, ext in zip(ids, frames):
            acc.add(fid, ext)
        for k in side:
            side[k] += s.get(k, 0)
        resumed += r
    return StreamResult(acc, side, resumed, result.seconds)


# ---------------------------------------------------------------- score assembly

def build_score(metric: str, result: StreamResult, *, mode: str, protocol: Protocol, pairing: Pairing,
                results: Path, truth_info: dict, n_resamples: int, seed: int, label: str | None,
                scorer: dict | None, notes: list[str], comparable: bool, extra_inputs: dict) -> dict:
    """The score object (docs/architecture.md contract 2) from the gathered per-frame matrices."""
    frames = result.acc.stacked()  # (N, 19, 20), sorted by frame id
    s = compute_scores(frames, mode)
    quirk = compute_scores(frames, "reference")
    ci = bootstrap_scores(frames, mode, n_resamples=n_resamples, seed=seed)
    fcn = metric == "fcn-score"  # the index-19 quirk belongs to the FCN scorer's 20 outputs
    dropped = quirk["frames_dropped_by_reference_quirk"] if fcn else 0
    if dropped:
        if mode == "reference":
            notes.append(f"{dropped} frames were dropped, as the reference evaluator drops them "
                         "(a bicycle pixel predicted as index 19); see counts")
        else:
            notes.append(f"{dropped} frames would have been dropped by the reference evaluator; "
                         "they are counted here")
    if fcn and s["pixels_predicted_index19"] and mode == "reference":
        notes.append(f"{s['pixels_predicted_index19']} pixels were predicted as index 19 and counted "
                     "as the reference does (in the next class's row, column 0)")
    skipped = dict(pairing.skipped)
    if result.side["gt_ignored"]:
        skipped["ground-truth pixels outside the 19 classes (ignored, as the reference does)"] = result.side["gt_ignored"]
    if result.side["gt_unmatched"]:
        skipped["ground-truth colour pixels matching no class within the tolerance (ignored)"] = result.side["gt_unmatched"]
    counts = {"images": len(pairing.pairs), "frames": int(len(frames)), "pixels": s["pixels_counted"]}
    if fcn:
        counts.update(frames_dropped_by_reference_quirk=dropped,
                      pixels_predicted_index19=s["pixels_predicted_index19"],
                      frames_with_index19=s["frames_with_index19"])
    else:  # predicted colours or ids that are no class (counted as errors)
        counts["pixels_predicted_no_class"] = s["pixels_predicted_index19"]
    counts["skipped"] = skipped
    if result.side["pred_unmatched"]:
        counts["predicted_pixels_matching_no_class_colour"] = result.side["pred_unmatched"]
    if result.resumed_frames:
        counts["frames_resumed_from_partial_state"] = result.resumed_frames
    manifest = read_manifest(results)
    names = [p.result.name for p in pairing.pairs]
    return make_score(
        metric=metric,
        values={m: s[m] for m in METRICS},
        higher_is_better=dict(HIGHER_IS_BETTER),
        ci=ci,
        per_class={"names": list(CLASS_NAMES), "acc": s["class_acc"], "iou": s["class_iou_per_class"]},
        counts=counts,
        protocol=protocol.settings(),
        scorer=scorer,
        inputs={"results": str(results), "labels": truth_info, "n_files": pairing.n_files,
                "file_list_sha256": file_list_hash(names), "match": pairing.match, **extra_inputs},
        label=label or folder_label(results, manifest),
        confusion_mode=mode,
        comparable_with_published=bool(comparable),
        notes=notes,
        confusion_matrix=s["hist"],
        # Per-frame matrices for paired significance tests in tables (sidecar, see write_score).
        frames={"ids": np.array(sorted(result.acc.frame_ids)), "confusion": frames},
        **({"manifest": manifest} if manifest is not None else {}),
    )


def default_workers() -> int:
    import os
    return max(1, min(4, (os.cpu_count() or 2) - 1))



# ---------------------------------------------------------------- output

def print_score_table(score: dict, file=None) -> None:
    """Headline values with confidence intervals, then per-class accuracy and IoU."""
    file = file or sys.stdout
    ci = score.get("ci") or {}
    c = score.get("counts", {})
    proto = (score.get("protocol") or {}).get("name", "?")
    print(f"{score['metric']}  {score.get('label') or ''}  (protocol {proto}; {c.get('frames', '?')} frames, "
          f"{c.get('pixels', '?')} pixels)", file=file)
    level = ci.get("level", 0.95)
    for m in METRICS:
        v = score["values"][m]
        lo_hi = ci.get(m)
        span = f"  [{lo_hi[0]:.4f}, {lo_hi[1]:.4f}] ({level:.0%} CI, {ci.get('n_resamples')} resamples)" if lo_hi else ""
        print(f"  {m:<15} {v:.4f}{span}", file=file)
    pc = score.get("per_class")
    if pc:
        print(f"  {'class':<15} {'acc':>7} {'iou':>7}", file=file)
        for name, a, i in zip(pc["names"], pc["acc"], pc["iou"]):
            print(f"  {name:<15} {a:7.4f} {i:7.4f}", file=file)
    if "pixels_predicted_index19" in c:
        print(f"  index 19: {c['pixels_predicted_index19']} pixels in {c.get('frames_with_index19', 0)} frames; "
              f"frames the reference would drop: {c.get('frames_dropped_by_reference_quirk', 0)}", file=file)
    if "pixels_predicted_no_class" in c:
        print(f"  predicted pixels that are no class: {c['pixels_predicted_no_class']}", file=file)
    print("  comparable with published numbers: " + ("yes" if score.get("comparable_with_published") else "no"),
          file=file)
    for n in score.get("notes", []):
        print(f"  note: {n}", file=file)
