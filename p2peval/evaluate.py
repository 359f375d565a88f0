"""FCN-score and label-score: library functions behind ``p2peval fcn-score`` and ``label-score``.

Scoring streams: DataLoader workers decode and resize (``datasets.py``), the device preprocesses,
runs the scorer, takes the argmax and builds each frame's (19, 20) confusion matrix; only those
matrices are kept (3 KB a frame), for the dataset scores and a bootstrap over frames. Frames are
sorted by id before reducing, so batch size, worker count and process count never change a
result. Under ``torchrun`` frames are sharded by rank and the matrices gathered.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch

from p2peval.manifest import folder_label, read_manifest
from p2peval.datasets import LabelImageOptions, ScoringDataset, image_size, make_loader
from p2peval.distributed import (DistContext, device_for_rank, gather_objects, init_distributed,
                                 shard, shutdown)
from p2peval.errors import ConfigError, InputError
from p2peval.labels import CLASS_NAMES
from p2peval.metrics.confusion import (HIGHER_IS_BETTER, METRICS, ConfusionAccumulator,
                                       batch_confusion_counts, bootstrap_scores, compute_scores)
from p2peval.pairing import (GroundTruth, Pairing, ground_truth_from_cityscapes,
                             ground_truth_from_folder, pair_results)
from p2peval.partial_state import SIDE_COUNTS, PartialState, fingerprint
from p2peval.protocols import Protocol, get_protocol
from p2peval.scorefile import file_list_hash, make_score

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
        from p2peval.cityscapes import find_cityscapes_root
        root = find_cityscapes_root(cityscapes)
        return ground_truth_from_cityscapes(root, split), {
            "source": "cityscapes gtFine labelIds", "root": str(root), "split": split}
    return ground_truth_from_folder(labels), {"source": "label images", "folder": str(labels)}


def _warn(msg: str) -> None:
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
    from p2peval.progress import progress

    t0 = time.perf_counter()
    loader = make_loader(dataset, batch_size=batch_size, workers=workers,
                         pin_memory=device.startswith("cuda"))
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
        for it in items:
            if "error" in it:
                finish()  # keep the frames scored so far for a resume
                raise InputError(it["error"][0])
        for group in _batches(items):
            x = _to_device([it["input"] for it in group], device)
            gts = _to_device([it["gt"] for it in group], device)
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


def _gather(result: StreamResult, ctx: DistContext, error: str | None = None) -> StreamResult:
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


# ---------------------------------------------------------------- fcn-score

def fcn_score(results, *, scorer, cityscapes=None, labels=None, split: str = "val",
              protocol: str = "pix2pix", match: str = "id", device: str = "cpu",
              batch_size: int | None = None, workers: int | None = None, n_resamples: int = 1000,
              seed: int = 0, label: str | None = None, show_progress: bool = True,
              labels_side: str = "whole", color_tolerance: float = 60.0, max_unmatched: float = 0.1,
              partial: str | Path | None = None, resume: bool = True) -> dict | None:
    """FCN-score of the generated photos in ``results`` (docs/reference.md section 1).

    ``scorer``: a checkpoint path (or a ``(model, meta, size_multiple)`` tuple). ``partial``: where
    to keep the resumable per-frame state (removed by the caller once the score is written).
    Returns the score object on rank 0 (None on other torchrun ranks).
    """
    from p2peval.inference import (check_device, load_checked_scorer, preprocess,
                                   preprocess_table, scorer_logits, tf32_disabled)
    from p2peval.partial_state import partial_path

    proto = get_protocol(protocol)
    results = Path(results)
    device = check_device(device)
    truth, truth_info = resolve_ground_truth(cityscapes, labels, split)
    pairing = pair_results(results, truth, match)
    ctx = init_distributed(device)
    try:
        device = device_for_rank(device, ctx)
        if isinstance(scorer, (tuple, list)):
            model, meta, multiple = scorer
            model = model.to(device)
        else:
            model, meta, multiple = load_checked_scorer(scorer, device)
        from p2peval.scorers.checkpoint import scorer_fingerprint
        size = image_size(pairing.pairs[0].result)  # every result must have this size
        notes, comparable = _comparability(proto, pairing, size, truth_info, split, meta, ctx.is_main)
        label_opts = LabelImageOptions(side=labels_side, color_tolerance=color_tolerance,
                                       max_unmatched=max_unmatched)
        fp = fingerprint({"metric": "fcn-score", "scorer": meta.get("weights_sha256"), "protocol": proto.settings(),
                          "pairs": [(p.key, str(p.result), str(p.truth.label)) for p in pairing.pairs],
                          "labels": label_opts, "rank": ctx.rank, "world": ctx.world_size})
        ppath = None if partial is None else partial_path(partial, ctx.rank, ctx.world_size)
        state = PartialState.load(ppath, fp) if resume else PartialState(ppath, fp)
        resumed = len(state.frame_ids)
        done = set(state.frame_ids)
        mine = [p for p in shard(pairing.pairs, ctx) if p.key not in done]
        if resumed and ctx.is_main:
            _warn(f"resuming: {resumed} frames already scored in {ppath}")
        dataset = ScoringDataset(mine, proto, kind="photo", expected_size=size, label_options=label_opts)
        label_res = proto.eval_resolution == "label"
        bs = batch_size or (1 if label_res else 8)
        nw = _default_workers() if workers is None else workers
        table = torch.from_numpy(preprocess_table(proto)).to(device)

        @torch.inference_mode()
        def predict(x: torch.Tensor) -> torch.Tensor:
            logits = scorer_logits(model, preprocess(x, proto, table), multiple)  # (B, K, H, W)
            # (B, H, W), the first maximum on ties as numpy's argmax; max(1) is 2.5x faster than
            # argmax(1) over the channel axis on the CPU
            return logits.max(1).indices

        error = None
        try:
            with tf32_disabled(device, proto):
                res = stream_confusion(dataset, predict, device=device, batch_size=bs, workers=nw,
                                       state=state, show_progress=show_progress and ctx.is_main,
                                       desc=f"fcn-score ({proto.name})")
        except InputError as e:
            if not ctx.active:
                raise
            error, res = str(e), StreamResult(ConfusionAccumulator())
        res.resumed_frames = resumed
        res = _gather(res, ctx, error)
        if not ctx.is_main:
            return None
        return build_score(
            "fcn-score", res, mode=proto.index19, protocol=proto, pairing=pairing, results=results,
            truth_info=truth_info, n_resamples=n_resamples, seed=seed, label=label,
            scorer=scorer_fingerprint(meta), notes=notes, comparable=comparable,
            extra_inputs={"result_size": list(size), "device": device, "processes": ctx.world_size})
    finally:
        shutdown(ctx)


def _comparability(proto: Protocol, pairing: Pairing, size: tuple[int, int], truth_info: dict,
                   split: str, meta: dict, warn: bool) -> tuple[list[str], bool]:
    """Notes for the score file, and whether the numbers may be compared with published ones."""
    notes: list[str] = []
    comparable = proto.comparable_with_published
    if not proto.comparable_with_published:
        notes.append(f"protocol {proto.name}: not comparable with published numbers")
    for p in pairing.jpeg_results[:1]:
        msg = (f"{len(pairing.jpeg_results)} results are JPEG (e.g. {p.name}); the reference "
               "requires PNG (JPEG artefacts lower the score)")
        if warn:
            _warn(msg)
        notes.append(msg)
    if size != tuple(proto.generated_size):
        notes.append(f"results are {size[0]}x{size[1]}; the protocol's published setting is "
                     f"{proto.generated_size[0]}x{proto.generated_size[1]}")
        comparable = False
    if truth_info["source"] != "cityscapes gtFine labelIds" or split != "val":
        comparable = False
        if proto.comparable_with_published:
            notes.append("ground truth is not the Cityscapes val gtFine labels: not comparable "
                         "with published numbers")
    if meta.get("arch") != "fcn8s":
        comparable = False
        if proto.comparable_with_published:
            notes.append(f"scorer is {meta.get('arch')}, not the reference FCN-8s: not comparable "
                         "with published numbers")
    if meta.get("protocol") and meta.get("protocol") != proto.name:
        notes.append(f"scorer was trained for protocol {meta.get('protocol')}, used with {proto.name}")
    return notes, comparable


def _default_workers() -> int:
    import os
    return max(1, min(4, (os.cpu_count() or 2) - 1))


# ---------------------------------------------------------------- label-score

def label_score(pred, *, cityscapes=None, labels=None, split: str = "val", protocol: str = "pix2pix",
                match: str = "id", n_resamples: int = 1000, seed: int = 0, label: str | None = None,
                workers: int | None = None, show_progress: bool = True, labels_side: str = "whole",
                color_tolerance: float = 60.0, max_unmatched: float = 0.1,
                partial: str | Path | None = None, resume: bool = True) -> dict:
    """Score predicted label maps (photo -> labels, the paper's Table 6) with the FCN-score metrics.

    Predictions are train-id PNGs or colour PNGs (nearest class colour). A predicted colour that
    is no class (black, or matching nothing) counts as an error of its pixel's class (strict
    confusion; the index-19 quirk belongs to the FCN scorer and does not apply). Protocols
    ``pix2pix*`` upsample predictions to the label size (nearest); ``fast`` downsamples labels.
    """
    proto = get_protocol(protocol)
    pred = Path(pred)
    truth, truth_info = resolve_ground_truth(cityscapes, labels, split)
    pairing = pair_results(pred, truth, match)
    label_opts = LabelImageOptions(side=labels_side, color_tolerance=color_tolerance,
                                   max_unmatched=max_unmatched)
    notes = ["label-score: predictions that are no class count as errors (strict confusion matrix)"]
    if not proto.comparable_with_published:
        notes.append(f"protocol {proto.name}: not comparable with published numbers")
    for p in pairing.jpeg_results[:1]:
        msg = (f"{len(pairing.jpeg_results)} predictions are JPEG (e.g. {p.name}); PNG keeps label "
               "colours exact")
        _warn(msg)
        notes.append(msg)
    comparable = proto.comparable_with_published and truth_info["source"] == "cityscapes gtFine labelIds"
    fp = fingerprint({"metric": "label-score", "protocol": proto.settings(), "labels": label_opts,
                      "pairs": [(p.key, str(p.result), str(p.truth.label)) for p in pairing.pairs]})
    from p2peval.partial_state import partial_path
    state = PartialState.load(None if partial is None else partial_path(partial), fp) if resume \
        else PartialState(None if partial is None else partial_path(partial), fp)
    resumed = len(state.frame_ids)
    done = set(state.frame_ids)
    dataset = ScoringDataset([p for p in pairing.pairs if p.key not in done], proto, kind="labels",
                             label_options=label_opts)
    res = stream_confusion(dataset, lambda x: x, device="cpu", batch_size=1,
                           workers=_default_workers() if workers is None else workers, state=state,
                           show_progress=show_progress, desc=f"label-score ({proto.name})")
    res.resumed_frames = resumed
    return build_score(
        "label-score", res, mode="strict", protocol=proto, pairing=pairing, results=pred,
        truth_info=truth_info, n_resamples=n_resamples, seed=seed, label=label, scorer=None,
        notes=notes, comparable=comparable, extra_inputs={})


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


# ---------------------------------------------------------------- segment

def segment(images, *, scorer, out, protocol: str = "pix2pix", save_scores: bool = False,
            device: str = "cpu", size: tuple[int, int] | None = None, cityscapes=None,
            split: str = "val", show_progress: bool = True) -> dict:
    """Write what the scorer sees for every image of ``images``.

    Per image ``<stem>``: ``<stem>_trainIds.png`` (argmax; 19 = the extra output of the reference
    FCN-8s), ``<stem>_color.png`` (class colours, black for 19), and with ``save_scores``
    ``<stem>_scores.npy``, the raw scores as float32 (C, H, W). The image is brought to the
    protocol's evaluation size first: for ``pix2pix*`` the size of its Cityscapes label (with
    ``cityscapes``), else ``size``, else 1024x2048; for ``fast`` its own size.
    """
    from p2peval.cityscapes import find_cityscapes_root, frame_id, list_frames
    from p2peval.imageio import list_images, pil_bilinear_resize, read_rgb, write_png
    from p2peval.inference import (check_device, load_checked_scorer, preprocess,
                                   preprocess_table, scorer_logits, tf32_disabled)
    from p2peval.labels import train_ids_to_color
    from p2peval.progress import progress
    from p2peval.scorefile import write_json_atomic
    from p2peval.scorers.checkpoint import scorer_fingerprint

    proto = get_protocol(protocol)
    device = check_device(device)
    images, out = Path(images), Path(out)
    files = list_images(images)
    if not files:
        raise InputError("empty folder (no image files)", images)
    label_of = {}
    if cityscapes is not None:
        label_of = {f.id: f.label_ids for f in list_frames(find_cityscapes_root(cityscapes), split)}
    model, meta, multiple = load_checked_scorer(scorer, device)
    table = torch.from_numpy(preprocess_table(proto)).to(device)
    written = []
    with tf32_disabled(device, proto), torch.inference_mode():
        for path in progress(files, desc="segment", unit="img", disable=not show_progress):
            rgb = read_rgb(path)
            if proto.eval_resolution == "label":
                fid = frame_id(path.name)
                if fid in label_of:
                    from p2peval.datasets import image_size
                    target = image_size(label_of[fid])
                else:
                    target = tuple(size) if size else (1024, 2048)
                if rgb.shape[:2] != target:
                    rgb = pil_bilinear_resize(rgb, target)
            elif size and rgb.shape[:2] != tuple(size):
                rgb = pil_bilinear_resize(rgb, tuple(size))
            x = torch.from_numpy(np.require(rgb, requirements=["C", "W"]))[None].to(device)
            logits = scorer_logits(model, preprocess(x, proto, table), multiple)[0]  # (K, H, W)
            ids = logits.argmax(0).to(torch.uint8).cpu().numpy()
            stem = path.stem
            write_png(out / f"{stem}_trainIds.png", ids)
            write_png(out / f"{stem}_color.png", train_ids_to_color(ids))
            if save_scores:
                _save_npy(out / f"{stem}_scores.npy", logits.float().cpu().numpy())
            written.append(stem)
    info = {"images": str(images), "n_images": len(written), "protocol": proto.settings(),
            "scorer": scorer_fingerprint(meta), "save_scores": save_scores, "device": device,
            "outputs": [f"{s}_trainIds.png" for s in written]}
    write_json_atomic(out / "segment.json", info)
    return info


def _save_npy(path: Path, arr: np.ndarray) -> None:
    """np.save via a temporary file and rename."""
    import os
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}.npy")
    np.save(tmp, arr.astype(np.float32))
    os.replace(tmp, path)
