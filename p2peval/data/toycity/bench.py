"""Benchmark the toy-city generator: images/s end to end (render + 4 PNG files) and render only.

Run ``python -m p2peval.data.toycity.bench [--out results/benchmarks/toycity.json]``. Each measurement
is repeated and the median reported; the machine's load average is recorded with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path


def bench(size: int = 256, n: int = 60, repeats: int = 3, workers: tuple[int, ...] = (1, 2)) -> dict:
    from p2peval.data.toycity import generate_toycity, render_frame

    render_frame(0, "train", 0, size)  # warm the texture cache
    render = []
    for r in range(repeats):
        t = time.perf_counter()
        for i in range(20):
            render_frame(0, "train", 1000 * r + i, size)
        render.append(20 / (time.perf_counter() - t))
    end_to_end = {}
    for w in workers:
        rates, cpu = [], []
        for r in range(repeats):
            tmp = Path(tempfile.mkdtemp(prefix="toycity-bench-"))
            try:
                t, c = time.perf_counter(), time.process_time()
                generate_toycity(tmp / "d", n, 1, size=size, seed=r, progress=False, workers=w)
                rates.append((n + 1) / (time.perf_counter() - t))
                cpu.append((time.process_time() - c) / (n + 1))
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        end_to_end[str(w)] = {"images_per_s_median": statistics.median(rates), "runs": rates}
        if w == 1:  # all work in this process: CPU seconds per image, insensitive to waiting for a core
            end_to_end[str(w)]["cpu_ms_per_image_median"] = 1000 * statistics.median(cpu)
            end_to_end[str(w)]["images_per_s_per_free_core"] = 1 / statistics.median(cpu)
    return {"size": size, "native": f"{size}x{2 * size}", "frames_per_run": n + 1, "repeats": repeats,
            "render_only_images_per_s_median": statistics.median(render), "render_only_runs": render,
            "end_to_end_by_workers": end_to_end, "cpus": os.cpu_count(), "load_average_1m_at_end": os.getloadavg()[0]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="results/benchmarks/toycity.json")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--n", type=int, default=60)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args(argv)
    load0 = os.getloadavg()[0]
    res = bench(a.size, a.n, a.repeats)
    res = {"benchmark": "toycity", "command": "python -m p2peval.data.toycity.bench " + " ".join(argv or sys.argv[1:]),
           "load_average_1m_at_start": load0, **res}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
