"""``p2peval bench fcn-score``: end-to-end images/s versus the forward pass alone."""

from __future__ import annotations

from p2peval.commands import nonneg_int, positive_int

HELP = ("Benchmark fcn-score: images/s end to end (decoding, resizing, preprocessing, forward, "
        "argmax, confusion) against the forward-pass-only rate of the same scorer at the same size "
        "on the same device. Target: end to end >= 0.85 x forward-only. With --forward none: the "
        "frames/s the input pipeline feeds (all workers and per worker), with no scorer. Prints JSON.")

EXAMPLES = """  p2peval bench fcn-score --protocol fast --n 16 --out results/benchmarks/fcn_score_fast_cpu.json
  p2peval bench fcn-score --protocol pix2pix --n 3 --repeats 3 --device cuda
  p2peval bench fcn-score --forward none --protocol pix2pix --n 64 --workers 1 --stages"""


def add_arguments(p) -> None:
    p.add_argument("--protocol", default="fast", help="named protocol (default fast)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--arch", default="fcn8s", help="scorer architecture, random weights (default fcn8s)")
    p.add_argument("--scorer", metavar="CKPT", help="use this checkpoint instead of random weights")
    p.add_argument("--n", type=positive_int, default=16, help="images per end-to-end run (default 16)")
    p.add_argument("--repeats", type=positive_int, default=3, help="runs of each kind; medians are reported (default 3)")
    p.add_argument("--batch-size", type=positive_int, default=None, help="as fcn-score (default 1 at label resolution, else 8)")
    p.add_argument("--workers", type=nonneg_int, default=None, help="decoding workers (default as fcn-score)")
    p.add_argument("--label-size", default="1024x2048", help="ground-truth size HxW (default 1024x2048, Cityscapes)")
    p.add_argument("--no-warmup", action="store_true",
                   help="skip the untimed warm-up forward pass (for very slow runs)")
    p.add_argument("--out", metavar="FILE.json", help="also write the JSON here (rewritten after every repeat)")
    p.add_argument("--forward", default="full", choices=("full", "none"),
                   help="none: the input pipeline alone with a null scorer (feed rate); default full")
    p.add_argument("--stages", action="store_true",
                   help="with --forward none: also the milliseconds per frame of each stage")
    p.add_argument("--precision", default="fp32", choices=("fp32", "tf32", "bf16"),
                   help="as fcn-score --precision (protocol fast only; tf32 on CUDA only)")
    p.add_argument("--cudnn-benchmark", action="store_true", help="torch.backends.cudnn.benchmark on")
    p.add_argument("--channels-last", action="store_true", help="scorer and input in channels-last format")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the scorer for the fixed shape (eager if compilation fails; reported)")



def run(args) -> int:
    import json
    from dataclasses import fields

    from p2peval.bench.fcn_score import FcnScoreBenchOptions, run_benchmark

    opts = FcnScoreBenchOptions(**{f.name: getattr(args, f.name) for f in fields(FcnScoreBenchOptions)})
    out = run_benchmark(opts)
    print(json.dumps(out, indent=2))
    return 0
