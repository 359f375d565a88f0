"""A torch.profiler trace of one fcn-score run (CPU and CUDA activities), to name the host-side
gaps between forward passes; for scripts/gpu_check.sh.

    python scripts/gpu_trace.py --results DIR --cityscapes ROOT --protocol fast --out OUTDIR

Writes OUTDIR/trace_<protocol>.json.gz (chrome://tracing or Perfetto) and
OUTDIR/trace_<protocol>.txt (the operators by self CPU time and by CUDA time).
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import sys
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from p2peval.scorers.checkpoint import save_scorer
from p2peval.scorers.registry import build_scorer
from p2peval.scoring.fcn_score import fcn_score


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results", type=Path, required=True)
    p.add_argument("--cityscapes", type=Path, required=True)
    p.add_argument("--protocol", default="fast")
    p.add_argument("--device", default="cuda")
    p.add_argument("--workers", type=int, default=16)
    p.add_argument("--arch", default="fcn8s", help="scorer architecture, random weights (default fcn8s)")
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model, config = build_scorer(a.arch)
    ckpt = a.out / f"{a.arch}_random.pt"
    save_scorer(ckpt, model, arch=a.arch, config=config, protocol=a.protocol)
    kw = {"scorer": ckpt, "cityscapes": a.cityscapes, "protocol": a.protocol, "device": a.device,
          "workers": a.workers, "n_resamples": 10, "show_progress": False}
    fcn_score(a.results, **kw)  # warm-up: kernels, allocator, page cache
    cuda = a.device.startswith("cuda")
    with profile(activities=[ProfilerActivity.CPU, *([ProfilerActivity.CUDA] if cuda else [])]) as prof:
        fcn_score(a.results, **kw)
    raw = a.out / f"trace_{a.protocol}.json"
    prof.export_chrome_trace(str(raw))
    with open(raw, "rb") as f, gzip.open(f"{raw}.gz", "wb") as g:
        shutil.copyfileobj(f, g)
    raw.unlink()
    ka = prof.key_averages()
    text = (ka.table(sort_by="self_cpu_time_total", row_limit=30) + "\n\n"
            + (ka.table(sort_by="cuda_time_total", row_limit=20) if cuda else ""))
    (a.out / f"trace_{a.protocol}.txt").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
