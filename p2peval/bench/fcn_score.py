"""``p2peval bench fcn-score``: end-to-end images/s versus the forward pass alone."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FcnScoreBenchOptions:
    """The settings of one benchmark run (the command's options)."""

    protocol: str = "fast"
    device: str = "cpu"
    arch: str = "fcn8s"
    scorer: str | None = None
    n: int = 16
    repeats: int = 3
    batch_size: int | None = None
    workers: int | None = None
    label_size: str = "1024x2048"
    no_warmup: bool = False
    out: str | None = None
    forward: str = "full"  # "none": the input pipeline alone, with no scorer (feed_benchmark)
    stages: bool = False  # with forward "none": also time each stage of a frame in one process
    precision: str = "fp32"  # as fcn-score --precision (protocol fast only)
    # Variants of the forward pass for a GPU run; each may change the last bits of the logits, so
    # fcn-score itself keeps none of them until a GPU run shows identical confusion matrices.
    cudnn_benchmark: bool = False  # torch.backends.cudnn.benchmark (autotuned convolutions)
    channels_last: bool = False  # the scorer's weights and input in channels-last memory format
    compile: bool = False  # torch.compile the scorer (eager when compilation fails; reported)


FORWARDS = ("full", "none")


def check_options(opts: FcnScoreBenchOptions) -> None:
    """Refuse bad options before any work (one line each)."""
    from p2peval.core.errors import ConfigError
    from p2peval.scoring.protocols import get_protocol

    if opts.forward not in FORWARDS:
        raise ConfigError(f"--forward {opts.forward!r}: expected one of {', '.join(FORWARDS)}")
    if opts.n < 1 or opts.repeats < 1:
        raise ConfigError("--n and --repeats must be at least 1")
    if opts.workers is not None and opts.workers < 0:
        raise ConfigError(f"--workers {opts.workers}: must be 0 or more")
    if opts.batch_size is not None and opts.batch_size < 1:
        raise ConfigError(f"--batch-size {opts.batch_size}: must be at least 1")
    if opts.stages and opts.forward != "none":
        raise ConfigError("--stages needs --forward none")
    get_protocol(opts.protocol).with_precision(opts.precision)
    _hw(opts.label_size)
    if opts.forward == "none" and (opts.precision != "fp32" or opts.cudnn_benchmark or opts.channels_last
                                   or opts.compile):
        raise ConfigError("--precision, --cudnn-benchmark, --channels-last and --compile concern the "
                          "scorer; --forward none runs none")


def forward_variant(model, opts: FcnScoreBenchOptions, example) -> tuple[object, dict]:
    """The scorer with the variants of ``opts`` applied, and what was applied (a failed compilation
    falls back to the eager model and says why)."""
    import torch

    info = {"channels_last": opts.channels_last, "cudnn_benchmark": opts.cudnn_benchmark, "compile": "off"}
    if opts.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if opts.compile:
        try:
            compiled = torch.compile(model, dynamic=False)
            with torch.inference_mode():
                compiled(example)  # compile now, at the fixed shape, outside the timings
            model, info["compile"] = compiled, "torch.compile"
        except Exception as e:  # noqa: BLE001  (no compiler, unsupported backend: measure eager instead)
            info["compile"] = f"failed, eager used ({type(e).__name__}: {str(e).splitlines()[0][:200]})"
    return model, info


def _hw(text: str) -> tuple[int, int]:
    from p2peval.commands import parse_hw
    from p2peval.core.errors import ConfigError
    hw = parse_hw(text)
    if hw is None:
        raise ConfigError(f"expected HxW, got {text!r}")
    return hw


def _write_data(root, n: int, label_hw, result_hw, seed: int = 0) -> None:
    """n frames: blocky raw label ids at label size, smooth random photos at result size."""
    import numpy as np
    from PIL import Image

    from p2peval.data.labels import LABELS

    rng = np.random.default_rng(seed)
    ids = np.array([lab.id for lab in LABELS], dtype=np.uint8)
    for i in range(n):
        fid = f"benchcity_{i:06d}_000019"
        d = root / "gtFine" / "val" / "benchcity"
        d.mkdir(parents=True, exist_ok=True)
        bh, bw = max(1, label_hw[0] // 16), max(1, label_hw[1] // 16)
        lab = np.kron(rng.choice(ids, size=(bh, bw)), np.ones((16, 16), np.uint8))[: label_hw[0], : label_hw[1]]
        Image.fromarray(np.ascontiguousarray(lab)).save(d / f"{fid}_gtFine_labelIds.png")
        small = rng.integers(0, 256, size=(result_hw[0] // 8, result_hw[1] // 8, 3), dtype=np.uint8)
        img = Image.fromarray(small).resize((result_hw[1], result_hw[0]), Image.BILINEAR)
        (root / "results").mkdir(exist_ok=True)
        img.save(root / "results" / f"{fid}_leftImg8bit.png")


def run_benchmark(opts: FcnScoreBenchOptions) -> dict:
    """Interleaved forward-only and end-to-end runs (or, with ``forward="none"``, the feed rate of
    the input pipeline alone: ``bench.fcn_feed``); the JSON summary."""
    import os
    import sys
    import tempfile
    import time
    from pathlib import Path

    import torch

    from p2peval.core.atomic import write_json_atomic
    from p2peval.core.device import check_device
    from p2peval.scorers.checkpoint import save_scorer
    from p2peval.scorers.registry import build_scorer
    from p2peval.scoring.fcn_score import fcn_score
    from p2peval.scoring.options import Execution, GroundTruth, Intervals
    from p2peval.scoring.inference import (
        check_precision,
        load_checked_scorer,
        preprocess,
        scorer_logits,
        tf32_disabled,
    )
    from p2peval.scoring.protocols import get_protocol
    from p2peval.scoring.stream import default_workers

    check_options(opts)
    if opts.forward == "none":
        from p2peval.bench.fcn_feed import run_feed_benchmark
        with tempfile.TemporaryDirectory(prefix="p2peval-bench-") as tmp:
            return run_feed_benchmark(opts, Path(tmp))
    load0 = os.getloadavg()[0]
    proto = get_protocol(opts.protocol).with_precision(opts.precision)
    device = check_device(opts.device)
    check_precision(proto, device)
    torch.backends.cudnn.benchmark = opts.cudnn_benchmark
    label_hw = _hw(opts.label_size)
    result_hw = tuple(proto.generated_size)
    eval_hw = label_hw if proto.eval_resolution == "label" else result_hw
    bs = opts.batch_size or (1 if proto.eval_resolution == "label" else 8)
    workers = default_workers() if opts.workers is None else opts.workers
    with tempfile.TemporaryDirectory(prefix="p2peval-bench-") as tmp:
        tmp = Path(tmp)
        _write_data(tmp / "cs", opts.n, label_hw, result_hw)
        if opts.scorer:
            ckpt = Path(opts.scorer)
        else:
            torch.manual_seed(0)
            model, config = build_scorer(opts.arch)
            ckpt = tmp / "scorer.pt"
            save_scorer(ckpt, model, arch=opts.arch, config=config, protocol=proto.name)
        model, meta, multiple = load_checked_scorer(ckpt, device)
        x8 = torch.randint(0, 256, (bs, *eval_hw, 3), dtype=torch.uint8, device=device)
        xin = preprocess(x8, proto)  # (B, 3, H, W)
        if opts.channels_last:
            xin = xin.contiguous(memory_format=torch.channels_last)
        model, variant = forward_variant(model, opts, xin)
        loaded = (model, meta, multiple)
        bf16 = proto.precision == "bf16"
        kind = "cuda" if device.startswith("cuda") else "cpu"

        def sync():
            if device.startswith("cuda"):
                torch.cuda.synchronize()

        def forward_only() -> float:
            """Images/s of the forward pass alone over as many images as an end-to-end run."""
            done = 0
            sync()
            t0 = time.perf_counter()
            with tf32_disabled(device, proto), torch.inference_mode(), \
                    torch.autocast(kind, dtype=torch.bfloat16, enabled=bf16):
                while done < opts.n:
                    scorer_logits(model, xin, multiple)
                    done += bs
            sync()
            return done / (time.perf_counter() - t0)

        def end_to_end() -> float:
            t0 = time.perf_counter()
            fcn_score(tmp / "cs" / "results", scorer=loaded, truth=GroundTruth(cityscapes=tmp / "cs"),
                      protocol=proto.name, precision=opts.precision, intervals=Intervals(n_resamples=100),
                      run=Execution(device=device, batch_size=bs, workers=workers, show_progress=False))
            sync()
            return opts.n / (time.perf_counter() - t0)

        if not opts.no_warmup:
            with tf32_disabled(device, proto), torch.inference_mode(), \
                    torch.autocast(kind, dtype=torch.bfloat16, enabled=bf16):
                scorer_logits(model, xin, multiple)  # warm-up (allocator, kernels)
        fwd, e2e = [], []
        for r in range(opts.repeats):  # interleaved, so both see the same machine load
            fwd.append(forward_only())
            e2e.append(end_to_end())
            print(f"bench fcn-score: run {r + 1}/{opts.repeats}: forward-only {fwd[-1]:.3f} img/s, "
                  f"end to end {e2e[-1]:.3f} img/s", file=sys.stderr, flush=True)
            out = _summary(opts, proto, device, meta, result_hw, label_hw, eval_hw, bs, workers, fwd, e2e, load0)
            out.update(precision=proto.precision, variant=variant)
            if opts.out:  # after every repeat, so a long run that is stopped still leaves its figures
                write_json_atomic(opts.out, out)
    return out


def _summary(opts, proto, device, meta, result_hw, label_hw, eval_hw, bs, workers, fwd, e2e, load0) -> dict:
    import os
    import statistics
    import sys

    import torch

    f_med, e_med = statistics.median(fwd), statistics.median(e2e)
    ratio = e_med / f_med
    return {
        "benchmark": "fcn-score",
        "command": " ".join(["p2peval", *sys.argv[1:]]),
        "protocol": proto.name, "device": device,
        "device_name": torch.cuda.get_device_name(device) if device.startswith("cuda") else "cpu",
        "scorer_arch": meta.get("arch"), "scorer_weights": "checkpoint" if opts.scorer else "random",
        "result_size": list(result_hw), "label_size": list(label_hw), "eval_size": list(eval_hw),
        "batch_size": bs, "workers": workers, "n_images": opts.n, "repeats": opts.repeats, "repeats_done": len(fwd),
        "warmup": not opts.no_warmup,
        "end_to_end_images_per_s": e_med, "forward_only_images_per_s": f_med,
        "ratio_end_to_end_to_forward": ratio, "target_ratio": 0.85, "meets_target": ratio >= 0.85,
        "runs": {"end_to_end_images_per_s": e2e, "forward_only_images_per_s": fwd},
        # Each repeat measures both back to back: the ratio within a repeat is steadier than the
        # ratio of medians when the machine's load changes between repeats.
        "ratio_per_repeat": [e / f for e, f in zip(e2e, fwd)],
        "median_ratio_per_repeat": statistics.median(e / f for e, f in zip(e2e, fwd)),
        "load_average_1min": {"start": load0, "end": os.getloadavg()[0]},
        "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "torch_version": torch.__version__,
        "note": "medians of interleaved runs; end to end = the whole fcn_score call (pairing, decoding and "
                "resizing in workers, preprocessing, forward, argmax, confusion, 100-resample bootstrap)",
    }
