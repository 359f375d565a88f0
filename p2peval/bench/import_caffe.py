"""``p2peval bench import-caffe``: time and peak memory of importing a full-width Caffe FCN-8s."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ImportCaffeBenchOptions:
    """The settings of one benchmark run (the command's options)."""

    out: str = "results/benchmarks"
    repeats: int = 3
    workdir: str | None = None
    seed: int = 0
    parity_size: list[str] = field(default_factory=list)


FULL_WIDTH = {"widths": [64, 128, 256, 512, 512], "fc_width": 4096, "num_outputs": 20}

# Runs in a fresh interpreter: baseline RSS after imports, then the import, then peak RSS.
_CHILD = r"""
import json, resource, sys, time
import torch
from p2peval.scorers import caffe_import as caffe, checkpoint, fcn8s
def rss_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
base = rss_kb()
base_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
caffe.import_caffe(sys.argv[1], sys.argv[2])
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "baseline_rss_kb": base, "baseline_peak_kb": base_peak,
                  "peak_rss_kb": peak}))
"""



def _size(text: str) -> tuple[int, int]:
    from p2peval.commands import parse_hw
    from p2peval.core.errors import ConfigError
    hw = parse_hw(text)
    if hw is None:
        raise ConfigError(f"--parity-size {text!r}: expected HxW, e.g. 256x256")
    return hw


def _parity(ckpt, size: tuple[int, int], seed: int) -> dict:
    """float32 vs float64 forward of the imported model on one random input."""
    import numpy as np
    import torch

    from p2peval.scorers.checkpoint import load_scorer

    model, _ = load_scorer(ckpt, arch="fcn8s")
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(rng.uniform(-80, 180, (1, 3, *size)).astype(np.float32))
    with torch.no_grad():
        s32 = model(x)[0]
        del model
        model64, _ = load_scorer(ckpt, arch="fcn8s")
        s64 = model64.double()(x.double())[0]
    diff = float((s32.double() - s64).abs().max())
    scale = float(s64.abs().max())
    top2 = torch.topk(s64, 2, dim=0).values
    margin = top2[0] - top2[1]
    differ = s32.argmax(0) != s64.argmax(0)
    return {"size": list(size), "max_abs_score": scale, "max_abs_diff_f32_vs_f64": diff,
            "relative": diff / max(scale, 1e-30), "label_disagreements": int(differ.sum()),
            "pixels": int(differ.numel()),
            "largest_margin_at_disagreement": float(margin[differ].max()) if differ.any() else None}


def run_benchmark(opts: ImportCaffeBenchOptions) -> dict:
    import json
    import os
    import platform
    import shutil
    import statistics
    import subprocess
    import sys
    import tempfile
    import time
    from pathlib import Path

    from p2peval.core.atomic import write_json_atomic
    from p2peval.core.errors import ConfigError
    from p2peval.scorers.caffe_writer import (
        random_fcn8s_weights,
        write_fcn8s_caffemodel,
    )

    if opts.repeats < 1:
        raise ConfigError(f"--repeats must be >= 1, got {opts.repeats}")
    sizes = [_size(s) for s in opts.parity_size]
    work = Path(opts.workdir or tempfile.mkdtemp(prefix="p2peval-bench-caffe-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        model_file = work / "fcn8s-full-random.caffemodel"
        t0 = time.perf_counter()
        write_fcn8s_caffemodel(model_file, random_fcn8s_weights(FULL_WIDTH, opts.seed), FULL_WIDTH)
        write_seconds = time.perf_counter() - t0
        size = model_file.stat().st_size
        print(f"wrote {model_file} ({size / 2**20:.1f} MiB) in {write_seconds:.1f} s", file=sys.stderr)
        runs = []
        ckpt = work / "imported.pt"
        env = {**os.environ, "OMP_NUM_THREADS": "2"}
        for i in range(opts.repeats):
            if ckpt.exists():
                ckpt.unlink()
            proc = subprocess.run([sys.executable, "-c", _CHILD, str(model_file), str(ckpt)],
                                  capture_output=True, text=True, env=env)
            if proc.returncode != 0:
                raise RuntimeError(f"import run failed:\n{proc.stderr[-2000:]}")
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            r["peak_above_baseline_bytes"] = (r["peak_rss_kb"] - r["baseline_rss_kb"]) * 1024
            runs.append(r)
            print(f"run {i + 1}/{opts.repeats}: {r['seconds']:.1f} s, peak RSS "
                  f"{r['peak_rss_kb'] / 2**20:.2f} GiB (baseline {r['baseline_rss_kb'] / 2**20:.2f} GiB)",
                  file=sys.stderr)
        med_s = statistics.median(r["seconds"] for r in runs)
        med_peak = statistics.median(r["peak_rss_kb"] * 1024 for r in runs)
        med_above = statistics.median(r["peak_above_baseline_bytes"] for r in runs)
        parity = [_parity(ckpt, s, opts.seed) for s in sizes]
        result = {
            "benchmark": "import-caffe",
            "command": "p2peval bench import-caffe " + " ".join(
                [f"--repeats {opts.repeats}", f"--seed {opts.seed}"] + [f"--parity-size {s}" for s in opts.parity_size]),
            "what": "p2peval.scorers.caffe_import.import_caffe (parse, map and check every blob, copy into "
                    "FCN8s, sha256 of the source file and of the weights, write the checkpoint) on a "
                    "full-width FCN-8s written by p2peval's writer with random weights; each run in a "
                    "fresh process; peak = getrusage max RSS",
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                        "python": platform.python_version(),
                        "note": "shared machine, loaded by other jobs during the run"},
            "model_file_bytes": size, "parameters": None,
            "write_seconds": write_seconds,
            "runs": runs,
            "median_seconds": med_s, "median_peak_rss_bytes": med_peak,
            "median_peak_above_baseline_bytes": med_above,
            "peak_rss_over_model_size": med_peak / size,
            "peak_above_baseline_over_model_size": med_above / size,
            "limits": {"seconds": 30, "peak_over_model_size": 2.0},
            "within_limits": bool(med_s <= 30 and med_above / size <= 2.0),
            "parity_f32_vs_f64": parity,
        }
        from p2peval.scorers.checkpoint import read_checkpoint
        state = read_checkpoint(ckpt)["state_dict"]
        result["parameters"] = int(sum(t.numel() for t in state.values()))
        del state
        out = Path(opts.out) / "import_caffe.json"
        write_json_atomic(out, result)
        print(f"import-caffe: median {med_s:.1f} s, peak RSS {med_peak / 2**20:.0f} MiB "
              f"({med_peak / size:.2f}x the model file; {med_above / size:.2f}x above the "
              f"{statistics.median(r['baseline_rss_kb'] for r in runs) / 2**10:.0f} MiB baseline); "
              f"wrote {out}")
        for p in parity:
            print(f"parity {p['size'][0]}x{p['size'][1]}: max |f32 - f64| {p['max_abs_diff_f32_vs_f64']:.3g} "
                  f"(max |score| {p['max_abs_score']:.3g}), {p['label_disagreements']} of {p['pixels']} "
                  f"labels differ")
    finally:
        if opts.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    return result
