"""``p2peval bench train-step``: seconds per training iteration of a bundled trainer (pix2pix by
default, ``--model cyclegan``) and of a reference-style step written in the benchmark
(``trainers.pix2pix.bench``, ``trainers.cyclegan.bench``), with peak memory."""

from __future__ import annotations

from p2peval.commands import nonneg_int, positive_int

HELP = ("Benchmark one training iteration of a bundled trainer (pix2pix: D step + G step; cyclegan: G step + "
        "D step with pools) against a reference-style step written in the benchmark.")
EXAMPLES = """  p2peval bench train-step --size 256 --batch 1
  p2peval bench train-step --size 256 --batch 1 --device cuda --precision bf16 --channels-last
  p2peval bench train-step --size 64 --repeats 5 --out results/benchmarks/train_step_64.json
  p2peval bench train-step --model cyclegan --size 128 --batch 1 --set generator.n_blocks=6 --threads 2"""


def add_arguments(p) -> None:
    p.add_argument("--model", choices=["pix2pix", "cyclegan"], default="pix2pix",
                   help="which trainer's iteration (default pix2pix)")
    p.add_argument("--size", type=positive_int, default=256, help="image side (default 256)")
    p.add_argument("--batch", type=positive_int, default=1, help="batch size (default 1)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda (default auto)")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--repeats", type=positive_int, default=10, help="timed iterations per implementation")
    p.add_argument("--warmup", type=nonneg_int, default=2, help="untimed iterations first")
    p.add_argument("--no-baseline", action="store_true", help="time only this trainer's step")
    p.add_argument("--compare-fp32", action="store_true",
                   help="with --precision bf16 / --channels-last: also time the fp32 step, report the speed-up")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="config override for both implementations, e.g. --set generator.ngf=32")
    p.add_argument("--threads", type=positive_int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--out", help="also write the JSON here (e.g. results/benchmarks/train_step.json)")


def run(args) -> int:
    import json
    import os

    import torch

    from p2peval.core.device import resolve_device
    from trainers.common.bench import report, time_interleaved

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # as the reference sets it
    if args.model == "cyclegan":
        from trainers.cyclegan.bench import implementations
    else:
        from trainers.pix2pix.bench import implementations
    impls, networks = implementations(args, device)
    load_before = os.getloadavg()
    times, peak = time_interleaved(impls, device, args.repeats, args.warmup)
    result = report(args, device, networks, times, peak, load_before,
                    f"p2peval bench train-step --model {args.model} --size {args.size} --batch {args.batch} "
                    f"--device {args.device} --precision {args.precision}"
                    + (" --channels-last" if args.channels_last else ""))
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        from p2peval.core.atomic import write_json_atomic
        write_json_atomic(args.out, result)
    return 0


