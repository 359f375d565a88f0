"""The ``bench train-step`` harness shared by the trainers: time several implementations of one
training iteration, interleaved repeat by repeat so machine load hits them alike, and report
medians, per-repeat ratios and peak memory as JSON."""

from __future__ import annotations

import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable

import torch


def time_interleaved(impls: dict[str, Callable[[], None]], device: torch.device, repeats: int,
                     warmup: int) -> tuple[dict[str, list[float]], dict[str, float]]:
    """(seconds of every timed call per implementation, CUDA peak MiB after warm-up)."""
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    times: dict[str, list[float]] = {k: [] for k in impls}
    peak: dict[str, float] = {}
    for k, fn in impls.items():
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        for _ in range(warmup):
            fn()
        sync()
        if device.type == "cuda":
            peak[k] = torch.cuda.max_memory_allocated(device) / 2**20
    for _ in range(repeats):  # interleaved: load spikes hit every implementation alike
        for k, fn in impls.items():
            sync()
            t = time.perf_counter()
            fn()
            sync()
            times[k].append(time.perf_counter() - t)
    return times, peak


def report(args, device: torch.device, networks: str, times: dict[str, list[float]], peak: dict[str, float],
           load_before: tuple[float, float, float], default_command: str) -> dict:
    """The benchmark's JSON: medians, iterations/s, every timing, load, speed-ups, memory."""
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "benchmark": "train-step",
        "command": " ".join(["p2peval", *sys.argv[1:]]) if sys.argv and "p2peval" in sys.argv[0] else default_command,
        "networks": networks,
        "overrides": list(args.set),
        "size": args.size, "batch": args.batch, "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine(),
        "precision": args.precision, "channels_last": args.channels_last,
        "threads": torch.get_num_threads(), "torch": torch.__version__,
        "repeats": args.repeats, "warmup": args.warmup,
        "median_s": {k: round(v, 4) for k, v in med.items()},
        "iterations_per_s": {k: round(1.0 / v, 3) for k, v in med.items()},
        "all_s": {k: [round(t, 4) for t in v] for k, v in times.items()},
    }
    result["load_average_1min"] = {"before": round(load_before[0], 2), "after": round(os.getloadavg()[0], 2),
                                   "cpus": os.cpu_count()}
    if "reference_style" in med:
        result["speedup_vs_reference_style"] = round(med["reference_style"] / med["p2peval"], 3)
        # per-repeat ratios of back-to-back runs: robust to load that drifts during the benchmark
        result["paired_speedup_median"] = round(statistics.median(
            r / o for r, o in zip(times["reference_style"], times["p2peval"])), 3)
        result["p2peval_faster_in_pairs"] = (f"{sum(o < r for o, r in zip(times['p2peval'], times['reference_style']))}"
                                             f"/{args.repeats}")
    if "p2peval_fp32" in med:
        result["speedup_vs_fp32"] = round(med["p2peval_fp32"] / med["p2peval"], 3)
    if device.type == "cuda":
        result["peak_memory_mb"] = {k: round(v, 1) for k, v in peak.items()}
    else:
        # CPU: the process's peak resident memory (all implementations together).
        result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result
