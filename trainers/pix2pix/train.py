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
import os
from pathlib import Path

import numpy as np
import torch

from p2peval.core.errors import ConfigError, InputError
from trainers.common.config import flatten as _flatten  # noqa: F401 (re-exported)
from trainers.common.runtime import (  # noqa: F401
    CHECKPOINT,
    TrainingDiverged,
    barrier,
    dist_env,
    finite_or_raise,
    gather,
    init_distributed,
    join_processes,
    loss_row,
    mean_losses,
    prepare_run,
    read_json_config,
    rewrite_losses,
    rng_state,
    save_atomic,
    set_rng_state,
    untouched,
)
from trainers.pix2pix.config import TrainConfig, config_from_dict, save_config, validate
from trainers.pix2pix.data import (
    PairDataset,
    epoch_batches,
    lab_to_uint8,
    list_records,
    to_uint8,
)
from trainers.pix2pix.step import Pix2PixModel, lr_factor

GENERATOR = "generator.pt"
LOSS_COLUMNS = ("step", "epoch", "lr", "D_real", "D_fake", "G_GAN", "G_L1")


def read_config(run: Path) -> TrainConfig:
    """The validated config of a pix2pix run folder."""
    return read_json_config(run, lambda d: validate(config_from_dict(d)), "pix2pix")


def _sample_grid(model: Pix2PixModel, ds: PairDataset, n: int, device: torch.device) -> np.ndarray:
    """Rows of input | output | target for the first ``n`` training pairs (no jitter).

    Runs the generator as in training (dropout, batch statistics) without touching the
    training state: RNG forked, BatchNorm running statistics restored afterwards.
    """
    G = model.G
    rows = []
    with untouched(G, device):
        for i in range(min(n, len(ds))):
            item = ds[i]
            A, B = item["A"][None].to(device), item["B"][None].to(device)
            fake = G(A)[0].float()
            if ds.cfg.mode == "colorization":
                rows.append(np.concatenate([to_uint8(A[0].repeat(3, 1, 1)),
                                            lab_to_uint8(A[0], fake), lab_to_uint8(A[0], B[0])], 1))
            else:
                rows.append(np.concatenate([to_uint8(A[0]), to_uint8(fake), to_uint8(B[0])], 1))
    return np.concatenate(rows, 0)


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
    rank, world, device, local_b = join_processes(config)
    gb = config.data.batch_size

    layout, records = list_records(config.data.root, config.data.layout, config.data.split)
    if config.data.max_images is not None:
        records = records[: config.data.max_images]
    if len(records) < gb:
        raise InputError(f"{len(records)} training pairs, fewer than one batch of {gb}", config.data.root)
    ds = PairDataset(records, config.data, train=True, seed=config.seed)
    steps_per_epoch = len(records) // gb
    total = config.steps or config.epochs * steps_per_epoch

    state = prepare_run(config, out, resume, read_config)
    barrier(world)  # every process has checked the folder before rank 0 writes
    torch.manual_seed(config.seed)  # identical initial weights in every process
    model = Pix2PixModel(config, device, ddp=world > 1)
    start, ckpt_step = 0, None
    if state is not None:
        model.load_state_dict(state["model"])
        start = ckpt_step = state["step"]
        set_rng_state(state["rng"][rank], device)
    else:
        torch.manual_seed(config.seed * 7919 + 1 + rank)  # dropout masks, per process
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        (out / "samples").mkdir(exist_ok=True)
        save_config(config, out / "config.json")
        rewrite_losses(out / "losses.csv", start, LOSS_COLUMNS)

    def checkpoint(step: int) -> None:
        rngs = gather(rng_state(device), world)
        if rank == 0:
            save_atomic({"model": model.state_dict(), "step": step, "rng": rngs,
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
                values = mean_losses(losses, world)
                finite_or_raise(values, step, epoch, out, ckpt_step)
                step += 1
                if rank == 0:
                    writer.writerow(loss_row(step, epoch, config.optim.lr * factor, values, LOSS_COLUMNS[3:]))
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
        save_atomic({"G": model.G.state_dict(), "config": config.to_dict(), "step": step,
                      "layout": layout}, out / GENERATOR)
    barrier(world)
    return out
