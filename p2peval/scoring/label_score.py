"""Label-score: the library function behind ``p2peval label-score`` (photo -> labels)."""

from __future__ import annotations

from pathlib import Path

from p2peval.core.partial_state import PartialState, fingerprint
from p2peval.data.datasets import ScoringDataset
from p2peval.data.pairing import pair_results
from p2peval.scoring.options import Execution, GroundTruth, Intervals
from p2peval.scoring.protocols import get_protocol
from p2peval.scoring.stream import (
    build_score,
    default_workers,
    resolve_ground_truth,
    stream_confusion,
    warn,
)

# ---------------------------------------------------------------- label-score

def label_score(pred, *, truth: GroundTruth, protocol: str = "pix2pix", label: str | None = None,
                intervals: Intervals = Intervals(), run: Execution = Execution()) -> dict:
    """Score predicted label maps (photo -> labels, the paper's Table 6) with the FCN-score metrics.

    Predictions are train-id PNGs or colour PNGs (nearest class colour). A predicted colour that
    is no class (black, or matching nothing) counts as an error of its pixel's class (strict
    confusion; the index-19 quirk belongs to the FCN scorer and does not apply). Protocols
    ``pix2pix*`` upsample predictions to the label size (nearest); ``fast`` downsamples labels.
    """
    proto = get_protocol(protocol)
    pred = Path(pred)
    frames, truth_info = resolve_ground_truth(truth.cityscapes, truth.labels, truth.split)
    pairing = pair_results(pred, frames, truth.match)
    label_opts = truth.label_options()
    notes = ["label-score: predictions that are no class count as errors (strict confusion matrix)"]
    if not proto.comparable_with_published:
        notes.append(f"protocol {proto.name}: not comparable with published numbers")
    for p in pairing.jpeg_results[:1]:
        msg = (f"{len(pairing.jpeg_results)} predictions are JPEG (e.g. {p.name}); PNG keeps label "
               "colours exact")
        warn(msg)
        notes.append(msg)
    comparable = proto.comparable_with_published and truth_info["source"] == "cityscapes gtFine labelIds"
    fp = fingerprint({"metric": "label-score", "protocol": proto.settings(), "labels": label_opts,
                      "pairs": [(p.key, str(p.result), str(p.truth.label)) for p in pairing.pairs]})
    from p2peval.core.partial_state import partial_path
    ppath = None if run.partial is None else partial_path(run.partial)
    state = PartialState.load(ppath, fp) if run.resume else PartialState(ppath, fp)
    resumed = len(state.frame_ids)
    done = set(state.frame_ids)
    dataset = ScoringDataset([p for p in pairing.pairs if p.key not in done], proto, kind="labels",
                             label_options=label_opts)
    res = stream_confusion(dataset, lambda x: x, device="cpu", batch_size=1,
                           workers=default_workers() if run.workers is None else run.workers, state=state,
                           show_progress=run.show_progress, desc=f"label-score ({proto.name})")
    res.resumed_frames = resumed
    return build_score(
        "label-score", res, mode="strict", protocol=proto, pairing=pairing, results=pred,
        truth_info=truth_info, n_resamples=intervals.n_resamples, seed=intervals.seed, label=label, scorer=None,
        notes=notes, comparable=comparable, extra_inputs={})


