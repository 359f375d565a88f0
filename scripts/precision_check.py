"""What a reduced precision changes in fcn-score: the share of predicted labels that differ from the
fp32 run, and the change in each score, for protocol fast (the only one that allows it).

    python scripts/precision_check.py --data TOY --scorer SCORER.pt --precisions bf16 --out FILE.json
    python scripts/precision_check.py ... --device cuda --precisions tf32,bf16   (on a GPU)

The frames go through fcn-score's own loader and predict function, once per precision; the scores
are whole fcn-score runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from p2peval.data.datasets import ScoringDataset, image_size
from p2peval.data.pairing import pair_results
from p2peval.metrics.confusion import METRICS
from p2peval.report.scorefile import write_json_atomic
from p2peval.scoring.fcn_score import fcn_score
from p2peval.scoring.inference import (
    check_precision,
    load_checked_scorer,
    make_predict,
    tf32_disabled,
)
from p2peval.scoring.protocols import get_protocol
from p2peval.scoring.stream import (
    check_items,
    device_batches,
    resolve_ground_truth,
    scoring_loader,
)


def predictions(dataset, model, multiple, proto, device) -> list[torch.Tensor]:
    """Predicted class ids of every frame (CPU tensors), in the dataset's order."""
    predict = make_predict(model, proto, multiple, device)
    out = []
    with tf32_disabled(device, proto):
        for items in scoring_loader(dataset, device=device, batch_size=8, workers=0):
            check_items(items)
            for _, x, _ in device_batches(items, device):
                out.extend(predict(x).cpu())
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="toy-city folder (with cityscapes/) or Cityscapes root")
    p.add_argument("--results", type=Path, help="generated photos (default: the val photos of --data)")
    p.add_argument("--scorer", type=Path, required=True)
    p.add_argument("--device", default="cpu")
    p.add_argument("--precisions", default="bf16", help="comma-separated, compared with fp32")
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    torch.set_num_threads(min(8, os.cpu_count() or 1))
    protos = {name: get_protocol("fast").with_precision(name) for name in ["fp32", *a.precisions.split(",")]}
    for proto in protos.values():
        check_precision(proto, a.device)
    root = a.data / "cityscapes" if (a.data / "cityscapes").is_dir() else a.data
    results = a.results or next((root / "leftImg8bit" / "val").iterdir())
    truth, _ = resolve_ground_truth(a.data, None, "val")
    pairing = pair_results(results, truth, "id")
    dataset = ScoringDataset(pairing.pairs, protos["fp32"], kind="photo", expected_size=image_size(pairing.pairs[0].result))
    model, meta, multiple = load_checked_scorer(a.scorer, a.device)
    out = {"scorer": {"arch": meta.get("arch"), "path": str(a.scorer)}, "results": str(results),
           "frames": len(pairing.pairs), "device": a.device, "protocol": "fast", "torch": torch.__version__,
           "load_average_start": list(os.getloadavg()), "precisions": {}}
    preds, scores = {}, {}
    for name, proto in protos.items():
        t0 = time.perf_counter()
        preds[name] = predictions(dataset, model, multiple, proto, a.device)
        seconds = time.perf_counter() - t0
        scores[name] = fcn_score(results, scorer=(model, meta, multiple), cityscapes=a.data, protocol="fast",
                                 device=a.device, workers=0, n_resamples=200, show_progress=False, precision=name)
        out["precisions"][name] = {"values": scores[name]["values"], "ci": {m: scores[name]["ci"][m] for m in METRICS},
                                   "predict_seconds": seconds}
    for name in protos:
        if name == "fp32":
            continue
        changed = sum(int((p != q).sum()) for p, q in zip(preds[name], preds["fp32"]))
        total = sum(p.numel() for p in preds["fp32"])
        out["precisions"][name].update(
            labels_changed=changed, pixels=total, share_of_labels_changed=changed / total,
            score_change_vs_fp32={m: scores[name]["values"][m] - scores["fp32"]["values"][m] for m in METRICS},
            confusion_identical_to_fp32=scores[name]["confusion_matrix"] == scores["fp32"]["confusion_matrix"])
    out["load_average_end"] = list(os.getloadavg())
    write_json_atomic(a.out, out)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
