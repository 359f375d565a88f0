"""A toy-city split at 1024x2048 (standing in for Cityscapes val), scored end to end and forward-only
in one run, for protocols pix2pix and fast, with the forward variants (cudnn.benchmark,
channels_last, torch.compile); for scripts/gpu_check.sh.

    python scripts/gpu_split.py --toy DIR --device cuda --workers 16 --out FILE.json

DIR is a toy-city folder written with --native-height 1024 (frames 1024x2048). Its val photos are
first shrunk to 256x256 (bicubic, as a generator's output would be) into DIR/results256. Each
variant's confusion matrix is compared with the plain fp32 run's (a variant is worth keeping only
where they are identical). The JSON is rewritten after every measurement.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from p2peval.bench.fcn_score import FcnScoreBenchOptions, forward_variant
from p2peval.core.imageio import write_png
from p2peval.data.datasets import image_size
from p2peval.report.scorefile import write_json_atomic
from p2peval.scorers.checkpoint import save_scorer
from p2peval.scorers.registry import build_scorer
from p2peval.scoring.fcn_score import fcn_score
from p2peval.scoring.inference import (
    load_checked_scorer,
    preprocess,
    scorer_logits,
    tf32_disabled,
)
from p2peval.scoring.protocols import get_protocol


def _shrink(args: tuple[Path, Path]) -> None:
    src, dst = args
    if not dst.exists():
        import numpy as np
        write_png(dst, np.asarray(Image.open(src).convert("RGB").resize((256, 256), Image.BICUBIC)), photo=True)


def results256(toy: Path, workers: int) -> Path:
    """The val photos at 256x256, named as Cityscapes frames."""
    out = toy / "results256"
    out.mkdir(exist_ok=True)
    photos = sorted((toy / "cityscapes" / "leftImg8bit" / "val").glob("*/*_leftImg8bit.png"))
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_shrink, [(p, out / p.name) for p in photos], chunksize=8))
    return out


def forward_rate(model, multiple, proto, device, frames: int, bs: int, hw, channels_last: bool) -> float:
    """Frames/s of the forward pass alone on random input of the evaluation size."""
    x = preprocess(torch.randint(0, 256, (bs, *hw, 3), dtype=torch.uint8, device=device), proto)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize(device)

    with tf32_disabled(device, proto), torch.inference_mode():
        scorer_logits(model, x, multiple)
        sync()
        t0, done = time.perf_counter(), 0
        while done < frames:
            scorer_logits(model, x, multiple)
            done += bs
        sync()
    return done / (time.perf_counter() - t0)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--toy", type=Path, required=True)
    p.add_argument("--device", default="cuda")
    p.add_argument("--workers", type=int, default=16)
    p.add_argument("--n", type=int, default=None, help="frames of the split to use (default all)")
    p.add_argument("--variant-n", type=int, default=200, help="frames for each variant run (default 200)")
    p.add_argument("--protocols", default="pix2pix,fast")
    p.add_argument("--variants", default="cudnn_benchmark,channels_last,compile")
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    res = results256(a.toy, a.workers)
    total = len(list(res.glob("*.png")))
    n = min(a.n or total, total)
    torch.manual_seed(0)
    model, config = build_scorer("fcn8s")
    ckpt = a.toy / "fcn8s_random.pt"
    save_scorer(ckpt, model, arch="fcn8s", config=config, protocol="pix2pix")
    model, meta, multiple = load_checked_scorer(ckpt, a.device)
    label_hw = image_size(next((a.toy / "cityscapes" / "gtFine" / "val").glob("*/*_gtFine_labelIds.png")))
    out = {"frames": n, "label_size": list(label_hw), "workers": a.workers,
           "device_name": torch.cuda.get_device_name(a.device) if a.device.startswith("cuda") else "cpu",
           "torch": torch.__version__, "cpu_count": os.cpu_count(), "scorer": "fcn8s (full width), random weights",
           "runs": []}
    plain: dict[tuple[str, int], list] = {}  # confusion matrices of the plain fp32 runs
    for name in a.protocols.split(","):
        proto = get_protocol(name)
        label_res = proto.eval_resolution == "label"
        bs, hw = (1, label_hw) if label_res else (8, (256, 256))
        for variant in ["plain", *[v for v in a.variants.split(",") if v]]:
            opts = FcnScoreBenchOptions(protocol=name, **({variant: True} if variant != "plain" else {}))
            torch.backends.cudnn.benchmark = opts.cudnn_benchmark
            m = model if variant == "plain" else load_checked_scorer(ckpt, a.device)[0]
            example = preprocess(torch.zeros((bs, *hw, 3), dtype=torch.uint8, device=a.device), proto)
            m, info = forward_variant(m, opts, example)
            frames = n if variant == "plain" else min(n, a.variant_n)
            fwd = forward_rate(m, multiple, proto, a.device, frames, bs, hw, opts.channels_last)
            files = sorted(res.glob("*.png"))[:frames]
            sub, gt = (res, a.toy) if frames == total else _subset(res, files)
            t0 = time.perf_counter()
            score = fcn_score(sub, scorer=(m, meta, multiple), cityscapes=gt, protocol=name, device=a.device,
                              batch_size=bs, workers=a.workers, n_resamples=100, show_progress=False)
            e2e = frames / (time.perf_counter() - t0)
            run = {"protocol": name, "variant": variant, "applied": info, "frames": frames,
                   "forward_only_frames_per_s": fwd, "end_to_end_frames_per_s": e2e, "ratio": e2e / fwd,
                   "split_seconds_end_to_end": frames / e2e}
            if variant != "plain":
                if (name, frames) not in plain:
                    torch.backends.cudnn.benchmark = False
                    plain[name, frames] = fcn_score(
                        sub, scorer=(model, meta, multiple), cityscapes=gt, protocol=name, device=a.device,
                        batch_size=bs, workers=a.workers, n_resamples=10, show_progress=False)["confusion_matrix"]
                run["confusion_identical_to_plain"] = plain[name, frames] == score["confusion_matrix"]
            else:
                plain[name, frames] = score["confusion_matrix"]
            out["runs"].append(run)
            write_json_atomic(a.out, out)
            print(run, flush=True)
    torch.backends.cudnn.benchmark = False
    return 0


def _subset(res: Path, files: list[Path]) -> tuple[Path, Path]:
    """A results folder and a Cityscapes root of links to the first frames of the split."""
    d = res.parent / f"{res.name}_first{len(files)}"
    root = res.parent / f"cityscapes_first{len(files)}"
    for f in files:
        fid = f.name[: -len("_leftImg8bit.png")]
        city = fid.split("_")[0]
        label = res.parent / "cityscapes" / "gtFine" / "val" / city / f"{fid}_gtFine_labelIds.png"
        for src, dst in ((f, d / f.name), (label, root / "gtFine" / "val" / city / label.name)):
            dst.parent.mkdir(parents=True, exist_ok=True)
            if not dst.exists():
                os.symlink(src.resolve(), dst)
    return d, root


if __name__ == "__main__":
    raise SystemExit(main())
