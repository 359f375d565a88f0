"""CycleGAN training loop: config in, run folder out.

A run folder holds ``config.json`` (with ``"trainer": "cyclegan"``), ``checkpoint.pt`` (weights,
optimiser moments, both image pools and every process's RNG state, the step), ``losses.csv`` (one
row per iteration, the reference's weighted loss terms), ``samples/epoch_NNNN.png`` (rows of
real_A | fake_B | rec_A | real_B | fake_A | rec_B) and, once finished, ``generator.pt`` (both
generators and the config, what ``translate`` reads).

Under ``torchrun`` the global batch ``data.batch_size`` is split over the processes and the
gradients are averaged by DistributedDataParallel; each process keeps its own pools.

    from trainers.cyclegan.config import CycleGANConfig, apply_overrides
    from trainers.cyclegan.train import train
    config = apply_overrides(CycleGANConfig(), ["data.root=data/toy", "data.crop_size=64", ...])
    train(config, Path("runs/cyclegan"))
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from p2peval.core.errors import ConfigError, InputError
from trainers.common.images import to_uint8
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
from trainers.cyclegan.config import (
    CycleGANConfig,
    config_from_dict,
    save_config,
    validate,
)
from trainers.cyclegan.data import UnpairedDataset, list_domains
from trainers.cyclegan.step import LOSS_NAMES, CycleGANModel, lr_factor, schedule_length

GENERATOR = "generator.pt"
LOSS_COLUMNS = ("step", "epoch", "lr", *LOSS_NAMES)


def run_trainer(run: Path) -> str:
    """``cyclegan`` or ``pix2pix``: which trainer wrote the run folder (pix2pix configs have no
    ``trainer`` key)."""
    from p2peval.core.jsonfile import read_json_object

    path = Path(run) / "config.json"
    if not path.is_file():
        raise InputError("not a run folder (no config.json)", run)
    return str(read_json_object(path, "config").get("trainer", "pix2pix"))


def read_config(run: Path) -> CycleGANConfig:
    """The validated config of a CycleGAN run folder; a pix2pix run is refused by name."""
    kind = run_trainer(run)
    if kind != "cyclegan":
        raise InputError(f"a {kind} run folder, not a CycleGAN one; 'train cyclegan --resume' continues "
                         "CycleGAN runs only", Path(run) / "config.json")
    return read_json_config(run, lambda d: validate(config_from_dict(d)), "CycleGAN")


def _rgb(x: torch.Tensor) -> np.ndarray:
    return to_uint8(x.repeat(3, 1, 1) if x.shape[0] == 1 else x)


def _sample_grid(model: CycleGANModel, ds: UnpairedDataset, n: int, device: torch.device) -> np.ndarray:
    """Rows of real_A | fake_B | rec_A | real_B | fake_A | rec_B for the first ``n`` items (no
    jitter), without touching the training state."""
    rows = []
    with untouched(model.G_A, device), untouched(model.G_B, device):
        for i in range(min(n, len(ds))):
            item = ds[i]
            A, B = item["A"][None].to(device), item["B"][None].to(device)
            fake_B, fake_A = model.G_A(A), model.G_B(B)
            rec_A, rec_B = model.G_B(fake_B), model.G_A(fake_A)
            rows.append(np.concatenate([_rgb(t[0].float()) for t in (A, fake_B, rec_A, B, fake_A, rec_B)], 1))
    return np.concatenate(rows, 0)


def train(config: CycleGANConfig, out: Path, resume: bool = False, show_progress: bool = True,
          max_steps: int | None = None) -> Path:
    """Train CycleGAN with ``config`` into the run folder ``out``; returns ``out``.

    ``resume=True`` continues from ``out/checkpoint.pt`` when it exists (the config must be the
    saved one) and starts fresh otherwise. ``max_steps`` stops after that many iterations in this
    call (with a checkpoint), as an interruption would; a later ``resume`` continues exactly.
    """

    config = validate(config)
    out = Path(out)
    if not config.data.root:
        raise ConfigError("data.root: no dataset given (--data DIR)")
    if resume and (out / "config.json").is_file():
        read_config(out)  # refuses a pix2pix run by name before anything else
    rank, world, device, local_b = join_processes(config)
    gb = config.data.batch_size

    d = config.data
    layout, recs_a, recs_b = list_domains(d.root, d.layout, d.split)
    if d.max_images is not None:
        recs_a, recs_b = recs_a[: d.max_images], recs_b[: d.max_images]
    ds = UnpairedDataset(recs_a, recs_b, d, train=True, seed=config.seed)
    if len(ds) < gb:
        raise InputError(f"{len(ds)} training images per epoch, fewer than one batch of {gb}", d.root)
    steps_per_epoch = len(ds) // gb
    total = schedule_length(config, steps_per_epoch)

    state = prepare_run(config, out, resume, read_config)
    barrier(world)  # every process has checked the folder before rank 0 writes
    torch.manual_seed(config.seed)  # identical initial weights in every process
    model = CycleGANModel(config, device, ddp=world > 1, pool_seed=config.seed * 1009 + rank)
    start, ckpt_step = 0, None
    if state is not None:
        model.load_state_dict(state["model"])
        model.load_pools_state(state["pools"][rank])
        start = ckpt_step = state["step"]
        set_rng_state(state["rng"][rank], device)
    else:
        torch.manual_seed(config.seed * 7919 + 1 + rank)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        (out / "samples").mkdir(exist_ok=True)
        save_config(config, out / "config.json")
        rewrite_losses(out / "losses.csv", start, LOSS_COLUMNS)

    def checkpoint(step: int) -> None:
        rngs, pools = gather(rng_state(device), world), gather(model.pools_state(), world)
        if rank == 0:
            save_atomic({"trainer": "cyclegan", "model": model.state_dict(), "pools": pools, "step": step,
                         "rng": rngs, "config": config.to_dict(), "layout": layout}, out / CHECKPOINT)

    stop = total if max_steps is None else min(total, start + max_steps)
    step = training_loop(
        model, ds, n_items=len(ds), config=config, out=out, rank=rank, world=world, device=device,
        local_b=local_b, start=start, total=total, stop=stop, steps_per_epoch=steps_per_epoch,
        lr_at=lambda s: lr_factor(config, s, steps_per_epoch), loss_names=LOSS_NAMES, checkpoint=checkpoint,
        ckpt_step=ckpt_step, show_progress=show_progress,
        sample=lambda: _sample_grid(model, UnpairedDataset(recs_a, recs_b, d, train=False),
                                    config.sample_images, device))
    if step == total and rank == 0:
        save_atomic({"trainer": "cyclegan", "G_A": model.G_A.state_dict(), "G_B": model.G_B.state_dict(),
                     "config": config.to_dict(), "step": step, "layout": layout}, out / GENERATOR)
    barrier(world)
    return out
