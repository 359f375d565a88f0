"""Recompute the intervals of fcn-score, label-score and color-hist score files from their
per-image sidecars (``*.frames.npz``), with p2peval's interval rule; no model or image is needed.

    PYTHONPATH=. python scripts/recompute_intervals.py SCORE.json [SCORE.json ...]

Each file's values are first recomputed from the sidecar and must equal the stored ones exactly
(else the file is left alone and the script exits 1); then ``ci`` is replaced by the one a fresh
run would write (same resample count, seed and level). One line per value shows the interval
before and after.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from p2peval.report.scorefile import read_score, read_sidecar, write_score


def _confusion_ci(score: dict, side: dict, old: dict) -> tuple[dict, dict]:
    from p2peval.metrics.confusion import METRICS, bootstrap_scores, compute_scores

    order = np.argsort(np.array([str(x) for x in side["ids"]]), kind="stable")  # as the scorer stacks
    frames = np.asarray(side["confusion"], np.int64)[order]
    mode = score.get("confusion_mode") or score["protocol"]["index19"]
    s = compute_scores(frames, mode)
    ci = bootstrap_scores(frames, mode, n_resamples=old["n_resamples"], seed=old["seed"], level=old["level"])
    return {m: s[m] for m in METRICS}, ci


def _color_ci(score: dict, side: dict, old: dict) -> tuple[dict, dict]:
    from p2peval.metrics.color import CHANNELS, LabBins
    from p2peval.scoring.color_hist import ImageSet, ImageSetHist, score_from_hists

    bins = LabBins.from_dict(json.loads(str(side["bins"])))
    sets = []
    for role, ids, counts, key in (("results", side["ids"], side["counts"], "results"),
                                   ("reference", side["ref_ids"], side["ref_counts"], "reference")):
        keys = [str(k) for k in ids]
        images = ImageSet(Path(score["inputs"][key]), [Path(k) for k in keys], keys, role)
        counts = np.asarray(counts)
        sets.append(ImageSetHist(images, bins, counts, np.zeros(3, np.int64),
                                 counts[:, :bins.L.n].sum(1, dtype=np.int64)))
    new = score_from_hists(*sets, label=score.get("label"), n_resamples=old["n_resamples"], seed=old["seed"],
                           level=old["level"]).score
    return {ch: new["values"][ch] for ch in CHANNELS}, new["ci"]


def recompute(path: Path) -> str:
    """Rewrite one score file's ``ci``; returns a one-line report."""
    score = read_score(path)
    side = read_sidecar(score, path)
    if side is None:
        return f"{path}: no per-image sidecar, left alone"
    old = score["ci"]
    if score["metric"] in ("fcn-score", "label-score"):
        values, ci = _confusion_ci(score, side, old)
    elif score["metric"] == "color-hist":
        values, ci = _color_ci(score, side, old)
    else:
        return f"{path}: metric {score['metric']} has no sidecar rule, left alone"
    if any(values[k] != score["values"][k] for k in values):
        raise SystemExit(f"{path}: the sidecar does not reproduce the stored values {score['values']} "
                         f"(got {values}); left alone")
    score["ci"] = ci
    write_score(path, score)
    lines = [f"{path}: ci recomputed ({ci['method']}, {ci['n_resamples']} resamples)"]
    for k, v in values.items():
        before, after = old.get(k) or [float("nan")] * 2, ci[k]
        lines.append(f"  {k:<14} {v:.4f}  [{before[0]:.4f}, {before[1]:.4f}] -> [{after[0]:.4f}, {after[1]:.4f}]")
    return "\n".join(lines)


if __name__ == "__main__":
    for p in sys.argv[1:]:
        print(recompute(Path(p)))
