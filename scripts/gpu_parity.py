"""CPU-GPU agreement, for scripts/gpu_check.sh (needs a CUDA device).

1. The Caffe fixture model (imported): CUDA scores against real Caffe's and against the CPU's.
2. Full-width FCN-8s with random weights, 256x256 and 1024x2048: CUDA against CPU.
3. The fcn-score files that gpu_check.sh wrote on CPU, CUDA and torchrun (nccl), protocols pix2pix and
   fast: confusion matrices (identical is the requirement).
TF32 is off for every CUDA forward, as protocol pix2pix does.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from p2peval.scorers.caffe_import import import_caffe  # noqa: E402
from p2peval.scorers.checkpoint import load_scorer  # noqa: E402
from p2peval.scorers.fcn8s import FCN8s, FCN8sConfig  # noqa: E402

MEAN_BGR = np.array((72.78044, 83.21195, 73.45286), np.float32)


def compare(a: torch.Tensor, b: torch.Tensor) -> dict:
    a, b = a.double().cpu(), b.double().cpu()
    return {"max_abs_diff": float((a - b).abs().max()),
            "max_abs_diff_rel_to_max_score": float((a - b).abs().max() / b.abs().max()),
            "label_flips": int((a.argmax(0) != b.argmax(0)).sum()),
            "pixels": int(a[0].numel())}


def caffe_fixture(fix: Path) -> dict:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        import_caffe(fix / "tiny.caffemodel", Path(tmp) / "tiny.pt")
        model, _ = load_scorer(Path(tmp) / "tiny.pt", arch="fcn8s")
    model.eval()
    gpu = FCN8s(model.config).cuda().eval()
    gpu.load_state_dict(model.state_dict())
    for png in sorted(fix.glob("input_*.png")):
        case = png.stem[len("input_"):]
        x = np.array(Image.open(png), dtype=np.float32)[:, :, ::-1] - MEAN_BGR
        x = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]
        with torch.no_grad():
            s_cpu = model(x)[0]
            s_gpu = gpu(x.cuda())[0].cpu()
        ref = torch.from_numpy(np.load(fix / f"score_{case}.npy")[0])
        atol = 1e-5 * float(ref.abs().max())
        out[case] = {"cuda_vs_caffe": compare(s_gpu, ref), "cpu_vs_caffe": compare(s_cpu, ref),
                     "cuda_vs_cpu": compare(s_gpu, s_cpu), "tolerance_atol": atol,
                     "cuda_within_tolerance_of_caffe": bool((s_gpu.double() - ref.double()).abs().max() <= atol)}
    return out


def full_width() -> dict:
    torch.manual_seed(0)
    model = FCN8s(FCN8sConfig()).eval()
    gpu = FCN8s(FCN8sConfig()).cuda().eval()
    gpu.load_state_dict(model.state_dict())
    out = {}
    for h, w in ((256, 256), (1024, 2048)):
        x = torch.rand(1, 3, h, w) * 255 - 80
        with torch.no_grad():
            s_cpu = model(x)[0]
            s_gpu = gpu(x.cuda())[0].cpu()
            s_64 = None
            if h == 256:
                s_64 = model.double()(x.double())[0]
                model.float()
        r = {"cuda_vs_cpu": compare(s_gpu, s_cpu)}
        if s_64 is not None:
            r["cuda_vs_float64"] = compare(s_gpu, s_64)
            r["cpu_vs_float64"] = compare(s_cpu, s_64)
        out[f"{h}x{w}"] = r
    return out


def score_files(d: Path) -> dict:
    runs = {}
    for name in ("cpu", "cuda", "torchrun", "fast_cpu", "fast_cuda"):
        f = d / f"score_{name}.json"
        if f.exists():
            s = json.loads(f.read_text())
            runs[name] = {"confusion": np.array(s["confusion_matrix"]), "values": s["values"], "device": s["inputs"].get("device"),
                          "processes": s["inputs"].get("processes")}
    out = {k: {kk: vv for kk, vv in v.items() if kk != "confusion"} for k, v in runs.items()}
    if "cpu" in runs:
        for name in ("cuda", "torchrun"):
            if name in runs:
                diff = np.abs(runs[name]["confusion"] - runs["cpu"]["confusion"]).sum() // 2
                out[f"{name}_vs_cpu_pixels_moved"] = int(diff)
                out[f"{name}_vs_cpu_total_pixels"] = int(runs["cpu"]["confusion"].sum())
    if "fast_cpu" in runs and "fast_cuda" in runs:
        out["fast_cuda_identical_to_cpu"] = bool(np.array_equal(runs["fast_cuda"]["confusion"], runs["fast_cpu"]["confusion"]))
    if "cpu" in runs and "cuda" in runs:
        out["cuda_identical_to_cpu"] = bool(np.array_equal(runs["cuda"]["confusion"], runs["cpu"]["confusion"]))
    if "cuda" in runs and "torchrun" in runs:
        out["torchrun_identical_to_cuda"] = bool(np.array_equal(runs["cuda"]["confusion"], runs["torchrun"]["confusion"]))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--fixture", type=Path, required=True)
    p.add_argument("--scores", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    torch.set_num_threads(8)
    result = {"device_name": torch.cuda.get_device_name(), "torch": torch.__version__, "tf32": False}
    for key, fn in (("caffe_fixture", lambda: caffe_fixture(a.fixture)), ("full_width_random", full_width),
                    ("fcn_score_runs", lambda: score_files(a.scores))):
        try:
            result[key] = fn()
        except Exception as e:  # keep the other parts
            result[key] = {"error": f"{type(e).__name__}: {e}"}
        a.out.write_text(json.dumps(result, indent=2))
        print(key, json.dumps(result[key], indent=1)[:3000], flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
