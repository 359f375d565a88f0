"""``p2peval bench fcn-score --forward none``: the frames per second the input pipeline feeds.

The frames go through the scoring loop's own loader (``ScoringDataset`` in DataLoader workers:
decoding, resizing, label mapping, transfer to shared memory, collation, pinning on CUDA) and its
own batching and transfer to the device (``stream.device_batches``); the scorer is left out (a
null scorer: each batch is dropped once it is on the device). ``--stages`` also times each stage of
a frame in one DataLoader worker (cProfile), with the hand-over from the worker to this process
(pickling the item, its tensors in shared memory, as the DataLoader does).
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

# The stages of a frame, as (name in the JSON, function in the library, what it does).
STAGES = (
    ("labels", "read_train_ids", ("ground-truth labelIds: PNG decoding, the id -> train id table "
                                  "(and, where it happens there, the nearest downsampling)")),
    ("labels_decode", "read_label", "PNG decoding of the labelIds, where it is a separate step"),
    ("labels_mapping", "label_ids_to_train_ids", "the id -> train id table, where it is a separate step"),
    ("read_result", "read_rgb", "PNG decoding of the generated photo"),
    ("bilinear_resize", "pil_bilinear_resize", "photo to the label size (protocol pix2pix)"),
    ("nearest_resize", "nearest_resize", "labels to the photo size (protocol fast), where it is a separate step"),
    ("item_total", "_load", "everything a worker does for one frame"),
)


def build_dataset(root: Path, proto, label_opts=None):
    """The scoring dataset of ``root/results`` against ``root`` (Cityscapes layout), as fcn-score
    builds it."""
    from p2peval.data.datasets import LabelImageOptions, ScoringDataset, image_size
    from p2peval.data.pairing import pair_results
    from p2peval.scoring.stream import resolve_ground_truth

    truth, _ = resolve_ground_truth(root, None, "val")
    pairing = pair_results(root / "results", truth, "id")
    size = image_size(pairing.pairs[0].result)
    return ScoringDataset(pairing.pairs, proto, kind="photo", expected_size=size,
                          label_options=label_opts or LabelImageOptions())


def feed_rate(dataset, *, device: str, batch_size: int, workers: int) -> dict:
    """Frames/s from starting the loader to the last batch on the device (worker start included)."""
    from p2peval.scoring.stream import check_items, device_batches, scoring_loader

    cpu0 = _cpu_seconds()
    t0 = time.perf_counter()
    first = None
    frames = 0
    loader = scoring_loader(dataset, device=device, batch_size=batch_size, workers=workers)
    for items in loader:
        check_items(items)
        for group, x, gt in device_batches(items, device):
            frames += len(group)
            del x, gt  # the null scorer
        if first is None:
            first = time.perf_counter() - t0
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)
    wall = time.perf_counter() - t0
    del loader  # its workers have exited: their CPU time is in RUSAGE_CHILDREN
    cpu = [b - a for a, b in zip(cpu0, _cpu_seconds())]
    return {"frames": frames, "seconds": wall, "frames_per_s": frames / wall, "first_batch_s": first,
            "cpu_ms_per_frame": {"main": 1000 * cpu[0] / frames, "workers": 1000 * cpu[1] / frames}}


def _cpu_seconds() -> tuple[float, float]:
    """CPU seconds (user + system) of this process and of its exited children."""
    import resource
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


class _StageProfile(torch.utils.data.Dataset):
    """One item: the stage costs of ``frames`` frames of ``dataset``, measured inside a DataLoader
    worker (where items are written into shared memory, as in a scoring run)."""

    def __init__(self, dataset, frames: int) -> None:
        self.dataset, self.frames = dataset, frames

    def __len__(self) -> int:
        return 1

    def __getitem__(self, _: int) -> dict:
        import cProfile
        import pstats
        from multiprocessing.reduction import ForkingPickler

        prof = cProfile.Profile(time.process_time)  # CPU time: steadier than wall time on a busy machine
        pickle_s = 0.0
        n = min(self.frames, len(self.dataset))
        self.dataset[0]  # warm-up, unmeasured: imports, tables, the resize kernel's check against PIL
        for i in range(n):
            prof.enable()
            item = self.dataset[i]
            prof.disable()
            if "error" in item:
                return {"error": item["error"][0]}
            t0 = time.process_time()
            ForkingPickler.dumps(item)  # what the worker does to hand the item over
            pickle_s += time.process_time() - t0
        stats = pstats.Stats(prof).stats  # {(file, line, name): (cc, nc, tt, ct, callers)}
        out = {}
        for key, func, what in STAGES:
            hits = [v for (f, _, name), v in stats.items() if name == func and "p2peval" in f]
            if hits:
                out[key] = {"ms_per_frame": 1000 * sum(v[3] for v in hits) / n, "what": what}
        out["to_shared_memory"] = {"ms_per_frame": 1000 * pickle_s / n,
                                   "what": "handing the item to the main process (pickling; tensors in shared memory)"}
        return {"frames": n, "stages": out, "note": "CPU milliseconds in one DataLoader worker (cProfile with the process's CPU clock, "
                        "which adds a little to each stage)"}


def stage_costs(dataset, frames: int) -> dict:
    """Milliseconds per frame of each stage, in one DataLoader worker, over the first ``frames`` items."""
    from p2peval.core.errors import InputError

    loader = torch.utils.data.DataLoader(_StageProfile(dataset, frames), batch_size=None, num_workers=1)
    out = next(iter(loader))
    if "error" in out:
        raise InputError(out["error"])
    return out


def run_feed_benchmark(opts, tmp: Path) -> dict:
    """Median feed rates of ``opts.repeats`` runs over ``opts.n`` frames, written to ``opts.out``."""
    import os
    import statistics
    import sys

    from p2peval.bench.fcn_score import _hw, _write_data
    from p2peval.report.scorefile import write_json_atomic
    from p2peval.core.device import check_device
    from p2peval.scoring.protocols import get_protocol
    from p2peval.scoring.stream import default_workers

    load0 = os.getloadavg()
    proto = get_protocol(opts.protocol)
    device = check_device(opts.device)
    label_hw = _hw(opts.label_size)
    result_hw = tuple(proto.generated_size)
    eval_hw = label_hw if proto.eval_resolution == "label" else result_hw
    bs = opts.batch_size or (1 if proto.eval_resolution == "label" else 8)
    workers = default_workers() if opts.workers is None else opts.workers
    _write_data(tmp / "cs", opts.n, label_hw, result_hw)
    dataset = build_dataset(tmp / "cs", proto)
    stages = stage_costs(dataset, min(opts.n, 16)) if opts.stages else None
    runs = []
    for r in range(opts.repeats):
        runs.append(feed_rate(dataset, device=device, batch_size=bs, workers=workers))
        print(f"bench fcn-score --forward none: run {r + 1}/{opts.repeats}: "
              f"{runs[-1]['frames_per_s']:.2f} frames/s with {workers} workers", file=sys.stderr, flush=True)
    feed = statistics.median(run["frames_per_s"] for run in runs)
    out = {
        "benchmark": "fcn-score feed (null scorer)",
        "command": " ".join(["p2peval", *sys.argv[1:]]),
        "protocol": proto.name, "device": device,
        "device_name": torch.cuda.get_device_name(device) if device.startswith("cuda") else "cpu",
        "result_size": list(result_hw), "label_size": list(label_hw), "eval_size": list(eval_hw),
        "batch_size": bs, "workers": workers, "n_frames": opts.n, "repeats": opts.repeats,
        "feed_frames_per_s": feed,
        # With no workers the main process decodes: it counts as one worker.
        "per_worker_frames_per_s": feed / max(1, workers),
        "runs_frames_per_s": [run["frames_per_s"] for run in runs],
        # CPU time per frame: the rate a worker reaches with a core to itself (the machine's load
        # slows the wall-clock rates above, not these); main = batching, transfer, loader overhead.
        "cpu_ms_per_frame": {k: statistics.median(run["cpu_ms_per_frame"][k] for run in runs)
                             for k in ("main", "workers")},
        "first_batch_s": [run["first_batch_s"] for run in runs],
        "load_average": {"start": list(load0), "end": list(os.getloadavg())},
        "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "note": "median of the runs; each run starts its workers (included in the time); the frames "
                "are dropped once on the device (no scorer, no confusion counting)",
    }
    if workers > 0:
        out["per_worker_frames_per_s_per_cpu_core"] = 1000 / out["cpu_ms_per_frame"]["workers"]
    if stages is not None:
        out["stage_costs"] = stages
    if opts.out:
        write_json_atomic(opts.out, out)
    return out
