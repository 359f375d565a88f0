"""Training loop: config in, run folder out.

A run folder holds ``config.json``, ``checkpoint.pt`` (everything needed to resume: weights,
optimiser moments, the step and every process's RNG state), ``losses.csv`` (one row per
iteration), ``samples/epoch_NNNN.png`` (input | output | target rows) and, once finished,
``generator.pt`` (the generator's weights and config, what ``translate`` reads).

Under ``torchrun`` the global batch ``data.batch_size`` is split over the processes and the
gradients are averaged by DistributedDataParallel.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from p2peval.core.errors import ConfigError, InputError
from trainers.common.runtime import (
    CHECKPOINT,
    barrier,
    gather,
    join_processes,
    prepare_run,
    read_json_config,
    rewrite_losses,
    rng_state,
    save_atomic,
    set_rng_state,
    training_loop,
    untouched,
)
from trainers.pix2pix.config import TrainConfig, config_from_dict, save_config, validate
from trainers.pix2pix.data import (
    PairDataset,
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

    stop = total if max_steps is None else min(total, start + max_steps)
    step = training_loop(
        model, ds, n_items=len(records), config=config, out=out, rank=rank, world=world, device=device,
        local_b=local_b, start=start, total=total, stop=stop, steps_per_epoch=steps_per_epoch,
        lr_at=lambda s: lr_factor(config, s, total), loss_names=LOSS_COLUMNS[3:], checkpoint=checkpoint,
        ckpt_step=ckpt_step, show_progress=show_progress,
        sample=lambda: _sample_grid(model, PairDataset(records, config.data, train=False),
                                    config.sample_images, device))
    if step == total and rank == 0:
        save_atomic({"G": model.G.state_dict(), "config": config.to_dict(), "step": step,
                      "layout": layout}, out / GENERATOR)
    barrier(world)
    return out
