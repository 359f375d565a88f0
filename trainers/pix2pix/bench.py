"""``p2peval bench train-step``: seconds per pix2pix iteration (D step + G step) and peak memory.

The baseline is a minimal re-implementation, written here, of how the widely used PyTorch
reference (junyanz/pytorch-CycleGAN-and-pix2pix, ``Pix2PixModel.optimize_parameters``) structures
its iteration: forward G; ``set_requires_grad(D, True)``; D backward on ``fake.detach()`` and the
real pair through its ``GANLoss`` (target tensor expanded to the prediction); step;
``set_requires_grad(D, False)``; G backward (GAN + 100 * L1); step; with ``torch.optim.Adam``
defaults. Both run the same networks (U-Net 256 + 70x70 PatchGAN, BatchNorm) on the same data,
interleaved repeat by repeat, so machine load hits both alike.
"""

from __future__ import annotations

from p2peval.commands import nonneg_int, positive_int

HELP = "Benchmark one pix2pix training iteration (D step + G step) against a reference-style step."
EXAMPLES = """  p2peval bench train-step --size 256 --batch 1
  p2peval bench train-step --size 256 --batch 1 --device cuda --precision bf16 --channels-last
  p2peval bench train-step --size 64 --repeats 5 --out results/benchmarks/train_step_64.json"""


def add_arguments(p) -> None:
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


class ReferenceStyleStep:
    """The reference's ``optimize_parameters`` re-implemented for comparison (see module doc)."""

    def __init__(self, G, D, lr=2e-4, lambda_l1=100.0):
        import torch
        self.G, self.D, self.lambda_l1 = G, D, lambda_l1
        self.opt_G = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
        self.opt_D = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
        self.criterion = torch.nn.BCEWithLogitsLoss()
        self.l1 = torch.nn.L1Loss()
        self.real_label, self.fake_label = torch.tensor(1.0), torch.tensor(0.0)

    def _gan(self, pred, real: bool):
        target = (self.real_label if real else self.fake_label).to(pred.device).expand_as(pred)
        return self.criterion(pred, target)

    @staticmethod
    def _set_requires_grad(net, flag: bool) -> None:
        for p in net.parameters():
            p.requires_grad = flag

    def step(self, real_A, real_B) -> None:
        import torch
        fake_B = self.G(real_A)
        self._set_requires_grad(self.D, True)
        self.opt_D.zero_grad()
        fake_AB = torch.cat((real_A, fake_B), 1)
        loss_D_fake = self._gan(self.D(fake_AB.detach()), False)
        real_AB = torch.cat((real_A, real_B), 1)
        loss_D_real = self._gan(self.D(real_AB), True)
        ((loss_D_fake + loss_D_real) * 0.5).backward()
        self.opt_D.step()
        self._set_requires_grad(self.D, False)
        self.opt_G.zero_grad()
        fake_AB = torch.cat((real_A, fake_B), 1)
        loss_G = self._gan(self.D(fake_AB), True) + self.l1(fake_B, real_B) * self.lambda_l1
        loss_G.backward()
        self.opt_G.step()


def run(args) -> int:
    import json
    import platform
    import resource
    import statistics
    import sys
    import time

    import torch

    from p2peval.core.errors import ConfigError
    from trainers.pix2pix.config import TrainConfig, apply_overrides, validate
    from trainers.pix2pix.step import Pix2PixModel, build_networks
    from trainers.pix2pix.train import resolve_device

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.repeats < 1 or args.batch < 1:
        raise ConfigError("--repeats and --batch must be >= 1")
    device = resolve_device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # as the reference sets it
    sets = [f"data.crop_size={args.size}", f"data.load_size={args.size}", f"data.batch_size={args.batch}",
            *args.set]

    def ours(precision: str, channels_last: bool):
        cfg = validate(apply_overrides(TrainConfig(), sets + [f"precision={precision}",
                                                              f"channels_last={channels_last}"]))
        torch.manual_seed(0)
        return Pix2PixModel(cfg, device).step

    def baseline():
        cfg = validate(apply_overrides(TrainConfig(), sets))
        torch.manual_seed(0)
        G, D = build_networks(cfg)
        return ReferenceStyleStep(G.to(device), D.to(device)).step

    impls = {"p2peval": ours(args.precision, args.channels_last)}
    if not args.no_baseline:
        impls["reference_style"] = baseline()
    if args.compare_fp32 and (args.precision != "fp32" or args.channels_last):
        impls["p2peval_fp32"] = ours("fp32", False)
    g = torch.Generator().manual_seed(0)
    A = (torch.rand(args.batch, 3, args.size, args.size, generator=g) * 2 - 1).to(device)
    B = (torch.rand(args.batch, 3, args.size, args.size, generator=g) * 2 - 1).to(device)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    import os
    load_before = os.getloadavg()
    times = {k: [] for k in impls}
    peak = {}
    for k, fn in impls.items():
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        for _ in range(args.warmup):
            fn(A, B)
        sync()
        if device.type == "cuda":
            peak[k] = torch.cuda.max_memory_allocated(device) / 2**20
    for _ in range(args.repeats):  # interleaved: load spikes hit every implementation alike
        for k, fn in impls.items():
            sync()
            t = time.perf_counter()
            fn(A, B)
            sync()
            times[k].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "benchmark": "train-step",
        "command": " ".join(["p2peval", *sys.argv[1:]]) if sys.argv and "p2peval" in sys.argv[0] else
                   f"p2peval bench train-step --size {args.size} --batch {args.batch} --device {args.device} "
                   f"--precision {args.precision}" + (" --channels-last" if args.channels_last else ""),
        "networks": "U-Net (num_downs = log2(size), ngf 64, BatchNorm) + 70x70 PatchGAN, L1+cGAN",
        "overrides": list(args.set),
        "size": args.size, "batch": args.batch, "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine(),
        "precision": args.precision, "channels_last": args.channels_last,
        "threads": torch.get_num_threads(), "torch": torch.__version__,
        "repeats": args.repeats, "warmup": args.warmup,
        "median_s": {k: round(v, 4) for k, v in med.items()},
        "iterations_per_s": {k: round(1.0 / v, 3) for k, v in med.items()},
        "all_s": {k: [round(t, 4) for t in v] for k, v in times.items()},
    }
    result["load_average_1min"] = {"before": round(load_before[0], 2), "after": round(os.getloadavg()[0], 2),
                                   "cpus": os.cpu_count()}
    if "reference_style" in med:
        result["speedup_vs_reference_style"] = round(med["reference_style"] / med["p2peval"], 3)
        # per-repeat ratios of back-to-back runs: robust to load that drifts during the benchmark
        result["paired_speedup_median"] = round(statistics.median(
            r / o for r, o in zip(times["reference_style"], times["p2peval"])), 3)
        result["p2peval_faster_in_pairs"] = (f"{sum(o < r for o, r in zip(times['p2peval'], times['reference_style']))}"
                                             f"/{args.repeats}")
    if "p2peval_fp32" in med:
        result["speedup_vs_fp32"] = round(med["p2peval_fp32"] / med["p2peval"], 3)
    if device.type == "cuda":
        result["peak_memory_mb"] = {k: round(v, 1) for k, v in peak.items()}
    else:
        # CPU: the process's peak resident memory (all implementations together).
        result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        from p2peval.report.scorefile import write_json_atomic
        write_json_atomic(args.out, result)
    return 0
