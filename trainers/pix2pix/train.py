"""Training loop: config in, run folder out.

A run folder holds ``config.json``, ``checkpoint.pt`` (everything needed to resume: weights,
optimiser moments, the step and every process's RNG state), ``losses.csv`` (one row per
iteration), ``samples/epoch_NNNN.png`` (input | output | target rows) and, once finished,
``generator.pt`` (the generator's weights and config, what ``translate`` reads).

Under ``torchrun`` the global batch ``data.batch_size`` is split over the processes and the
gradients are averaged by DistributedDataParallel.
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

import numpy as np
import torch

from p2peval.core.errors import ConfigError, InputError, P2PError
from trainers.pix2pix.config import TrainConfig, config_from_dict, save_config, validate
from trainers.pix2pix.data import PairDataset, epoch_batches, lab_to_uint8, list_records, to_uint8
from trainers.pix2pix.step import Pix2PixModel, lr_factor

CHECKPOINT = "checkpoint.pt"
GENERATOR = "generator.pt"
LOSS_COLUMNS = ("step", "epoch", "lr", "D_real", "D_fake", "G_GAN", "G_L1")


class TrainingDiverged(P2PError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""
    exit_code = 3


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        name = f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r}: CUDA is not available on this machine")
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", local_rank)
    return dev


def _dist_env() -> tuple[int, int, int]:
    """(rank, world size, local rank) from the torchrun environment; (0, 1, 0) otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0"))


def _save_atomic(obj, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _rng_state(device: torch.device) -> dict:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def _gather(obj, world: int):
    if world == 1:
        return [obj]
    import torch.distributed as dist
    out = [None] * world
    dist.all_gather_object(out, obj)
    return out


def read_config(run: Path) -> TrainConfig:
    path = Path(run) / "config.json"
    if not path.is_file():
        raise InputError("not a pix2pix run folder (no config.json)", run)
    try:
        return validate(config_from_dict(json.loads(path.read_text())))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"unreadable config ({e})", path) from None
    except ConfigError as e:
        raise InputError(str(e), path) from None


def _sample_grid(model: Pix2PixModel, ds: PairDataset, n: int, device: torch.device) -> np.ndarray:
    """Rows of input | output | target for the first ``n`` training pairs (no jitter).

    Runs the generator as in training (dropout, batch statistics) without touching the
    training state: RNG forked, BatchNorm running statistics restored afterwards.
    """
    G = model.G
    saved = {k: v.clone() for k, v in G.named_buffers()}
    rows = []
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.no_grad():
        for i in range(min(n, len(ds))):
            item = ds[i]
            A, B = item["A"][None].to(device), item["B"][None].to(device)
            fake = G(A)[0].float()
            if ds.cfg.mode == "colorization":
                rows.append(np.concatenate([to_uint8(A[0].repeat(3, 1, 1)),
                                            lab_to_uint8(A[0], fake), lab_to_uint8(A[0], B[0])], 1))
            else:
                rows.append(np.concatenate([to_uint8(A[0]), to_uint8(fake), to_uint8(B[0])], 1))
    with torch.no_grad():
        for k, v in G.named_buffers():
            v.copy_(saved[k])
    return np.concatenate(rows, 0)


def _finite_or_raise(values: dict[str, float], step: int, epoch: int, out: Path, ckpt_step: int | None) -> None:
    bad = {k: v for k, v in values.items() if not math.isfinite(v)}
    if bad:
        kept = (f"last good checkpoint kept: {out / CHECKPOINT} (step {ckpt_step})" if ckpt_step is not None
                else "no checkpoint was written yet")
        what = ", ".join(f"{k}={v}" for k, v in bad.items())
        raise TrainingDiverged(f"training diverged at step {step} (epoch {epoch}): {what}; {kept}; "
                               "try a lower optim.lr or a different seed", out)


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        out.update(_flatten(v, f"{prefix}{k}.") if isinstance(v, dict) else {prefix + k: v})
    return out


def _prepare_run(config: TrainConfig, out: Path, resume: bool, rank: int) -> dict | None:
    """Check the run folder against the config; returns the checkpoint to resume from, if any."""
    cfg_path, ckpt_path = out / "config.json", out / CHECKPOINT
    if ckpt_path.exists() or cfg_path.exists():
        if not resume:
            raise ConfigError(f"{out}: run folder already exists; pass --resume to continue it "
                              "or choose another --out")
        if cfg_path.exists():
            saved, now = _flatten(read_config(out).to_dict()), _flatten(config.to_dict())
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


def train(config: TrainConfig, out: Path, resume: bool = False, show_progress: bool = True,
          max_steps: int | None = None) -> Path:
    """Train pix2pix with ``config`` into the run folder ``out``; returns ``out``.

    ``resume=True`` continues from ``out/checkpoint.pt`` when it exists (the config must be the
    saved one) and starts fresh otherwise. ``max_steps`` stops after that many iterations in this
    call (with a checkpoint), as an interruption would; a later ``resume`` continues exactly.
    """
    from p2peval.core.imageio import write_png
    from p2peval.core.progress import progress

    config = validate(config)
    out = Path(out)
    if not config.data.root:
        raise ConfigError("data.root: no dataset given (--data DIR)")
    rank, world, local_rank = _dist_env()
    device = resolve_device(config.device, local_rank)
    if world > 1:
        import torch.distributed as dist
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            torch.cuda.set_device(device)
    gb = config.data.batch_size
    if gb % world:
        raise ConfigError(f"data.batch_size {gb} is not divisible by the {world} processes")
    local_b = gb // world

    layout, records = list_records(config.data.root, config.data.layout, config.data.split)
    if config.data.max_images is not None:
        records = records[: config.data.max_images]
    if len(records) < gb:
        raise InputError(f"{len(records)} training pairs, fewer than one batch of {gb}", config.data.root)
    ds = PairDataset(records, config.data, train=True, seed=config.seed)
    steps_per_epoch = len(records) // gb
    total = config.steps or config.epochs * steps_per_epoch

    state = _prepare_run(config, out, resume, rank)
    if world > 1:
        torch.distributed.barrier()  # every process has checked the folder before rank 0 writes
    torch.manual_seed(config.seed)  # identical initial weights in every process
    model = Pix2PixModel(config, device, ddp=world > 1)
    start, ckpt_step = 0, None
    if state is not None:
        model.load_state_dict(state["model"])
        start = ckpt_step = state["step"]
        _set_rng_state(state["rng"][rank], device)
    else:
        torch.manual_seed(config.seed * 7919 + 1 + rank)  # dropout masks, per process
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        (out / "samples").mkdir(exist_ok=True)
        save_config(config, out / "config.json")
        _rewrite_losses(out / "losses.csv", start)

    def checkpoint(step: int) -> None:
        rngs = _gather(_rng_state(device), world)
        if rank == 0:
            _save_atomic({"model": model.state_dict(), "step": step, "rng": rngs,
                          "config": config.to_dict(), "layout": layout}, out / CHECKPOINT)

    bar = progress(total=total - start, desc=f"train {out.name}", unit="step",
                   disable=not show_progress or rank != 0)
    step, stop = start, total if max_steps is None else min(total, start + max_steps)
    with open(out / "losses.csv", "a", newline="") if rank == 0 else open(os.devnull, "w") as fh:
        writer = csv.writer(fh)
        while step < stop:
            epoch, pos = divmod(step, steps_per_epoch)
            batches = epoch_batches(len(records), gb, config.seed, epoch)[pos:]
            batches = batches[: stop - step]
            sampler = [[(epoch, i) for i in b[rank * local_b:(rank + 1) * local_b]] for b in batches]
            loader = torch.utils.data.DataLoader(ds, batch_sampler=sampler, num_workers=config.data.workers)
            for batch in loader:
                factor = lr_factor(config, step, total)
                model.set_lr(factor)
                losses = model.step(batch["A"].to(device, non_blocking=True),
                                    batch["B"].to(device, non_blocking=True))
                values = _mean_losses(losses, world)
                _finite_or_raise(values, step, epoch, out, ckpt_step)
                step += 1
                if rank == 0:
                    writer.writerow([step, epoch, f"{config.optim.lr * factor:.6g}",
                                     *(f"{values[k]:.6g}" if k in values else "" for k in LOSS_COLUMNS[3:])])
                    fh.flush()
                bar.set_postfix_str(" ".join(f"{k}={v:.3f}" for k, v in values.items()))
                bar.update(1)
                if step % steps_per_epoch == 0 and rank == 0 and config.sample_images > 0:
                    grid = _sample_grid(model, PairDataset(records, config.data, train=False), config.sample_images, device)
                    write_png(out / "samples" / f"epoch_{step // steps_per_epoch:04d}.png", grid)
                if step % config.checkpoint_every == 0 or step == stop:
                    checkpoint(step)
                    ckpt_step = step
    bar.close()
    if step == total and rank == 0:
        _save_atomic({"G": model.G.state_dict(), "config": config.to_dict(), "step": step,
                      "layout": layout}, out / GENERATOR)
    if world > 1:
        import torch.distributed as dist
        dist.barrier()
    return out


def _mean_losses(losses: dict[str, torch.Tensor], world: int) -> dict[str, float]:
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


def _rewrite_losses(path: Path, upto: int) -> None:
    """Keep the header and the rows of steps <= ``upto`` (rows after the checkpoint are redone)."""
    rows = []
    if path.exists() and upto > 0:
        with open(path, newline="") as f:
            rows = [r for r in csv.reader(f)][1:]
        rows = [r for r in rows if r and r[0].isdigit() and int(r[0]) <= upto]
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(LOSS_COLUMNS)
        w.writerows(rows)
    os.replace(tmp, path)
