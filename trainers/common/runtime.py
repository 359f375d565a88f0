"""Run-folder machinery of the trainers: devices and torchrun, atomic checkpoints with every
process's RNG state, resume checks, the NaN/inf stop, loss averaging over processes, the loss log
and precision (bf16 autocast, channels_last).
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import torch

from p2peval.core.atomic import atomic_path
from p2peval.core.errors import ConfigError, InputError, P2PError
from trainers.common.config import flatten

CHECKPOINT = "checkpoint.pt"


class TrainingDiverged(P2PError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""
    exit_code = 3


def dist_env() -> tuple[int, int, int]:
    """(rank, world size, local rank) from the torchrun environment; (0, 1, 0) otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0"))


def init_distributed(world: int, device: torch.device) -> None:
    """Join the torchrun process group (NCCL on GPUs, gloo on CPUs) when there are processes."""
    if world > 1:
        from p2peval.core.distributed import init_distributed as join
        join(str(device))
        if device.type == "cuda":
            torch.cuda.set_device(device)


def join_processes(config) -> tuple[int, int, torch.device, int]:
    """(rank, world size, device, per-process batch) of a training run: joins the torchrun
    process group when there is one, and refuses a global batch the processes cannot share."""
    from p2peval.core.device import resolve_device

    rank, world, local_rank = dist_env()
    device = resolve_device(config.device, local_rank)
    init_distributed(world, device)
    gb = config.data.batch_size
    if gb % world:
        raise ConfigError(f"data.batch_size {gb} is not divisible by the {world} processes")
    return rank, world, device, gb // world


def barrier(world: int) -> None:
    if world > 1:
        torch.distributed.barrier()


def save_atomic(obj, path: Path) -> None:
    """torch.save to a temporary file, then rename: a killed process never leaves half a file."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def rng_state(device: torch.device) -> dict:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def gather(obj, world: int) -> list:
    """Every process's ``obj`` (a list in rank order; ``[obj]`` without torchrun)."""
    if world == 1:
        return [obj]
    import torch.distributed as dist
    out = [None] * world
    dist.all_gather_object(out, obj)
    return out


def mean_losses(losses: dict[str, torch.Tensor], world: int) -> dict[str, float]:
    """Loss values averaged over processes (a single sync per iteration)."""
    if not losses:
        return {}
    keys = sorted(losses)
    vec = torch.stack([losses[k].float() for k in keys])
    if world > 1:
        import torch.distributed as dist
        dist.all_reduce(vec)
        vec /= world
    return dict(zip(keys, vec.tolist()))


def finite_or_raise(values: dict[str, float], step: int, epoch: int, out: Path, ckpt_step: int | None) -> None:
    """Stop on a NaN or infinite loss with one line that says which and what was kept."""
    bad = {k: v for k, v in values.items() if not math.isfinite(v)}
    if bad:
        kept = (f"last good checkpoint kept: {out / CHECKPOINT} (step {ckpt_step})" if ckpt_step is not None
                else "no checkpoint was written yet")
        what = ", ".join(f"{k}={v}" for k, v in bad.items())
        raise TrainingDiverged(f"training diverged at step {step} (epoch {epoch}): {what}; {kept}; "
                               "try a lower optim.lr or a different seed", out)


def prepare_run(config, out: Path, resume: bool, read_config: Callable[[Path], object]) -> dict | None:
    """Check the run folder against the config; returns the checkpoint to resume from, if any.

    ``read_config`` reads the folder's saved config (and refuses a run of another trainer).
    """
    cfg_path, ckpt_path = out / "config.json", out / CHECKPOINT
    if ckpt_path.exists() or cfg_path.exists():
        if not resume:
            raise ConfigError(f"{out}: run folder already exists; pass --resume to continue it "
                              "or choose another --out")
        if cfg_path.exists():
            saved, now = flatten(read_config(out).to_dict()), flatten(config.to_dict())
            diffs = [k for k in now if now[k] != saved.get(k) and k != "data.root"]  # data may move
            if diffs:
                raise ConfigError(f"{out}: cannot resume with a different config "
                                  f"(changed: {', '.join(diffs)}); use the saved config.json")
    if ckpt_path.exists() and resume:
        try:
            return torch.load(ckpt_path, map_location="cpu", weights_only=False)
        except Exception as e:  # a truncated or foreign file
            raise InputError(f"unreadable checkpoint ({str(e).splitlines()[0][:120]})", ckpt_path) from None
    return None


def read_json_config(run: Path, parse: Callable[[dict], object], what: str):
    """``parse(RUN/config.json)`` with every failure as one line naming the file."""
    path = Path(run) / "config.json"
    if not path.is_file():
        raise InputError(f"not a {what} run folder (no config.json)", run)
    from p2peval.core.jsonfile import read_json_object

    d = read_json_object(path, "config")
    try:
        return parse(d)
    except ConfigError as e:
        raise InputError(str(e), path) from None


def rewrite_losses(path: Path, upto: int, columns: Iterable[str]) -> None:
    """Keep the header and the rows of steps <= ``upto`` (rows after the checkpoint are redone)."""
    rows = []
    if path.exists() and upto > 0:
        with open(path, newline="") as f:
            rows = [r for r in csv.reader(f)][1:]
        rows = [r for r in rows if r and r[0].isdigit() and int(r[0]) <= upto]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(list(columns))
        w.writerows(rows)


def loss_row(step: int, epoch: int, lr: float, values: dict[str, float], loss_columns: Iterable[str]) -> list:
    """One ``losses.csv`` row: step, epoch, lr, then each loss column (empty when not trained)."""
    return [step, epoch, f"{lr:.6g}", *(f"{values[k]:.6g}" if k in values else "" for k in loss_columns)]


def autocast(precision: str, device: torch.device):
    """bf16 autocast for ``precision="bf16"``, else nothing."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def memory_format(channels_last: bool) -> torch.memory_format:
    return torch.channels_last if channels_last else torch.contiguous_format


def ddp_wrap(net: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """DistributedDataParallel around ``net`` (gradients all-reduced in backward)."""
    from torch.nn.parallel import DistributedDataParallel as DDP
    return DDP(net, device_ids=[device.index] if device.type == "cuda" else None)


def fused_adam(params, lr: float, beta1: float, beta2: float) -> torch.optim.Adam:
    """Adam with the fused update: the same step as the per-tensor loop in one pass over memory
    per tensor (CPU and GPU); on CPU the loop takes about a quarter of a pix2pix iteration."""
    return torch.optim.Adam(params, lr=lr, betas=(beta1, beta2), fused=True)


@contextlib.contextmanager
def untouched(net: torch.nn.Module, device: torch.device):
    """Run ``net`` for a sample grid without touching the training state: RNG forked, buffers
    (BatchNorm running statistics) restored afterwards, no gradients."""
    saved = {k: v.clone() for k, v in net.named_buffers()}
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.no_grad():
        yield
    with torch.no_grad():
        for k, v in net.named_buffers():
            v.copy_(saved[k])


def training_loop(model, ds, *, n_items: int, config, out: Path, rank: int, world: int,
                  device: torch.device, local_b: int, start: int, total: int, stop: int,
                  steps_per_epoch: int, lr_at: Callable[[int], float], loss_names: Iterable[str],
                  checkpoint: Callable[[int], None], ckpt_step: int | None,
                  sample: Callable[[], object] | None, show_progress: bool) -> int:
    """The training loop both trainers run, from ``start`` to ``stop``; returns the last step.

    Batches come from the seeded epoch permutation (``epoch_batches``), each process taking its
    slice of every global batch, so a resumed run draws exactly what an uninterrupted one would.
    Per step: the learning-rate factor, ``model.step(A, B)``, the losses averaged over processes,
    the NaN/inf stop, one row of the loss log; a sample grid at every epoch end (``sample``) and a
    checkpoint every ``checkpoint_every`` steps and at ``stop``.
    """
    from p2peval.core.imageio import write_png
    from p2peval.core.progress import progress
    from trainers.common.images import epoch_batches

    loss_names = tuple(loss_names)
    gb = local_b * world
    bar = progress(total=total - start, desc=f"train {out.name}", unit="step",
                   disable=not show_progress or rank != 0)
    step = start
    with open(out / "losses.csv", "a", newline="") if rank == 0 else open(os.devnull, "w") as fh:
        writer = csv.writer(fh)
        while step < stop:
            epoch, pos = divmod(step, steps_per_epoch)
            batches = epoch_batches(n_items, gb, config.seed, epoch)[pos:]
            batches = batches[: stop - step]
            sampler = [[(epoch, i) for i in b[rank * local_b:(rank + 1) * local_b]] for b in batches]
            loader = torch.utils.data.DataLoader(ds, batch_sampler=sampler, num_workers=config.data.workers)
            for batch in loader:
                factor = lr_at(step)
                model.set_lr(factor)
                losses = model.step(batch["A"].to(device, non_blocking=True),
                                    batch["B"].to(device, non_blocking=True))
                values = mean_losses(losses, world)
                finite_or_raise(values, step, epoch, out, ckpt_step)
                step += 1
                if rank == 0:
                    writer.writerow(loss_row(step, epoch, config.optim.lr * factor, values, loss_names))
                    fh.flush()
                bar.set_postfix_str(" ".join(f"{k}={v:.3f}" for k, v in values.items()))
                bar.update(1)
                if step % steps_per_epoch == 0 and rank == 0 and sample is not None and config.sample_images > 0:
                    write_png(out / "samples" / f"epoch_{step // steps_per_epoch:04d}.png", sample())
                if step % config.checkpoint_every == 0 or step == stop:
                    checkpoint(step)
                    ckpt_step = step
    bar.close()
    return step
