"""FCN-score: the library function behind ``p2peval fcn-score``."""

from __future__ import annotations

from pathlib import Path


from p2peval.core.distributed import device_for_rank, init_distributed, shard, shutdown
from p2peval.core.errors import InputError
from p2peval.core.partial_state import PartialState, fingerprint
from p2peval.data.datasets import ScoringDataset, image_size
from p2peval.data.pairing import Pairing, pair_results
from p2peval.metrics.confusion import ConfusionAccumulator
from p2peval.scoring.options import Execution, GroundTruth, Intervals
from p2peval.scoring.protocols import Protocol, get_protocol
from p2peval.scoring.stream import (
    StreamResult,
    build_score,
    default_workers,
    gather_result,
    resolve_ground_truth,
    stream_confusion,
    warn,
)

# ---------------------------------------------------------------- fcn-score

def fcn_score(results, *, scorer, truth: GroundTruth, protocol: str = "pix2pix", precision: str = "fp32",
              label: str | None = None, intervals: Intervals = Intervals(),
              run: Execution = Execution()) -> dict | None:
    """FCN-score of the generated photos in ``results`` (docs/reference.md section 1).

    ``scorer``: a checkpoint path (or a ``(model, meta, size_multiple)`` tuple). ``precision``:
    fp32, or tf32/bf16 where the protocol allows them (recorded in the score file's protocol
    settings). ``run.partial``: where to keep the resumable per-frame state (removed by the caller
    once the score is written). Returns the score object on rank 0 (None on other torchrun ranks).
    """
    from p2peval.core.device import check_device
    from p2peval.core.partial_state import partial_path
    from p2peval.scoring.inference import (
        check_precision,
        load_checked_scorer,
        make_predict,
        tf32_disabled,
    )

    proto = get_protocol(protocol).with_precision(precision)
    results = Path(results)
    device = check_device(run.device)
    check_precision(proto, device)
    frames, truth_info = resolve_ground_truth(truth.cityscapes, truth.labels, truth.split)
    pairing = pair_results(results, frames, truth.match)
    ctx = init_distributed(device)
    try:
        device = device_for_rank(device, ctx)
        if isinstance(scorer, (tuple, list)):
            model, meta, multiple = scorer
            model = model.to(device)
        else:
            model, meta, multiple = load_checked_scorer(scorer, device)
        from p2peval.scorers.checkpoint import scorer_fingerprint
        size = image_size(pairing.pairs[0].result)  # every result must have this size
        notes, comparable = _comparability(proto, pairing, size, truth_info, truth.split, meta, ctx.is_main)
        label_opts = truth.label_options()
        fp = fingerprint({"metric": "fcn-score", "scorer": meta.get("weights_sha256"), "protocol": proto.settings(),
                          "pairs": [(p.key, str(p.result), str(p.truth.label)) for p in pairing.pairs],
                          "labels": label_opts, "rank": ctx.rank, "world": ctx.world_size})
        ppath = None if run.partial is None else partial_path(run.partial, ctx.rank, ctx.world_size)
        state = PartialState.load(ppath, fp) if run.resume else PartialState(ppath, fp)
        resumed = len(state.frame_ids)
        done = set(state.frame_ids)
        mine = [p for p in shard(pairing.pairs, ctx) if p.key not in done]
        if resumed and ctx.is_main:
            warn(f"resuming: {resumed} frames already scored in {ppath}")
        dataset = ScoringDataset(mine, proto, kind="photo", expected_size=size, label_options=label_opts)
        label_res = proto.eval_resolution == "label"
        bs = run.batch_size or (1 if label_res else 8)
        nw = default_workers() if run.workers is None else run.workers
        predict = make_predict(model, proto, multiple, device)

        error = None
        try:
            with tf32_disabled(device, proto):
                res = stream_confusion(dataset, predict, device=device, batch_size=bs, workers=nw,
                                       state=state, show_progress=run.show_progress and ctx.is_main,
                                       desc=f"fcn-score ({proto.name})")
        except InputError as e:
            if not ctx.active:
                raise
            error, res = str(e), StreamResult(ConfusionAccumulator())
        res.resumed_frames = resumed
        res = gather_result(res, ctx, error)
        if not ctx.is_main:
            return None
        return build_score(
            "fcn-score", res, mode=proto.index19, protocol=proto, pairing=pairing, results=results,
            truth_info=truth_info, n_resamples=intervals.n_resamples, seed=intervals.seed, label=label,
            scorer=scorer_fingerprint(meta), notes=notes, comparable=comparable,
            extra_inputs={"result_size": list(size), "device": device, "processes": ctx.world_size})
    finally:
        shutdown(ctx)


def _comparability(proto: Protocol, pairing: Pairing, size: tuple[int, int], truth_info: dict,
                   split: str, meta: dict, announce: bool) -> tuple[list[str], bool]:
    """Notes for the score file, and whether the numbers may be compared with published ones."""
    notes: list[str] = []
    comparable = proto.comparable_with_published
    if not proto.comparable_with_published:
        notes.append(f"protocol {proto.name}: not comparable with published numbers")
    if proto.precision != "fp32":
        notes.append(f"scorer run in {proto.precision}, not fp32: some labels can differ from an fp32 run")
    for p in pairing.jpeg_results[:1]:
        msg = (f"{len(pairing.jpeg_results)} results are JPEG (e.g. {p.name}); the reference "
               "requires PNG (JPEG artefacts lower the score)")
        if announce:
            warn(msg)
        notes.append(msg)
    if size != tuple(proto.generated_size):
        notes.append(f"results are {size[0]}x{size[1]}; the protocol's published setting is "
                     f"{proto.generated_size[0]}x{proto.generated_size[1]}")
        comparable = False
    if truth_info["source"] != "cityscapes gtFine labelIds" or split != "val":
        comparable = False
        if proto.comparable_with_published:
            notes.append("ground truth is not the Cityscapes val gtFine labels: not comparable "
                         "with published numbers")
    if meta.get("arch") != "fcn8s":
        comparable = False
        if proto.comparable_with_published:
            notes.append(f"scorer is {meta.get('arch')}, not the reference FCN-8s: not comparable "
                         "with published numbers")
    if meta.get("protocol") and meta.get("protocol") != proto.name:
        notes.append(f"scorer was trained for protocol {meta.get('protocol')}, used with {proto.name}")
    return notes, comparable


