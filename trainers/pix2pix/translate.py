"""Run a trained generator over a dataset and write a results folder (docs/architecture.md contract 1).

Cityscapes frames become ``<id>_leftImg8bit.png`` (so ``p2peval fcn-score`` reads the folder
directly); other inputs ``<stem>_fake_B.png`` with ``<stem>_real_A.png`` and ``<stem>_real_B.png``
beside it, as the pix2pix code writes them. ``manifest.json`` says what made the folder.

As in the paper the generator runs as in training by default (dropout on, BatchNorm with the
statistics of the test batch, batch size 1); ``eval_mode=True`` uses the running statistics and no
dropout instead. The generator is fully convolutional: any size that is a multiple of
2^num_downs works (e.g. 512 for a U-Net trained at 256).
"""

from __future__ import annotations

from pathlib import Path

import torch

from p2peval.core.device import resolve_device
from p2peval.core.errors import ConfigError, InputError
from trainers.common.results import refuse_foreign_images
from trainers.pix2pix.config import channels
from trainers.pix2pix.data import PairDataset, lab_to_uint8, list_records, to_uint8
from trainers.pix2pix.networks import build_generator
from trainers.pix2pix.train import CHECKPOINT, GENERATOR, read_config


def load_generator(run: Path, device: torch.device) -> tuple[torch.nn.Module, dict]:
    """The generator of a run folder (``generator.pt``, else the latest ``checkpoint.pt``)."""
    run = Path(run)
    config = read_config(run)
    path = run / GENERATOR if (run / GENERATOR).exists() else run / CHECKPOINT
    if not path.exists():
        raise InputError("run folder has no generator.pt or checkpoint.pt (did training start?)", run)
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
        weights = state["G"] if "G" in state else state["model"]["G"]
    except Exception as e:
        raise InputError(f"unreadable checkpoint ({str(e).splitlines()[0][:120]})", path) from None
    g = config.generator
    cin, cout = channels(config)
    G = build_generator(g.arch, cin, cout, g.num_downs, g.ngf, g.norm, g.dropout)
    try:
        G.load_state_dict(weights)
    except RuntimeError as e:
        raise InputError(f"checkpoint does not match config.json ({str(e).splitlines()[0][:160]})", path) from None
    return G.to(device), {"config": config, "checkpoint": path, "step": state.get("step")}


def _output_names(rec, real_images: bool) -> list[str]:
    if rec.is_cityscapes:
        return [f"{rec.id}_leftImg8bit.png"]
    return [f"{rec.id}_fake_B.png"] + ([f"{rec.id}_real_A.png", f"{rec.id}_real_B.png"] if real_images else [])


def _refuse_foreign_images(out: Path, records, real_images: bool) -> None:
    """A results folder is scored as a whole: refuse to mix in images of another run."""
    refuse_foreign_images(out, (n for rec in records for n in _output_names(rec, real_images)))


def translate(run: Path, data: Path, out: Path, size: int | None = None, eval_mode: bool = False,
              split: str = "val", device: str = "auto", seed: int = 0, real_images: bool = True,
              rounding: str = "round", show_progress: bool = True) -> Path:
    """Translate every input of ``data``/``split`` with the run's generator into ``out``.

    ``rounding="truncate"`` converts to uint8 exactly as the reference's ``tensor2im`` does
    (see ``data.to_uint8``); the default rounds to the nearest level.
    """
    from p2peval.core.atomic import write_json_atomic
    from p2peval.core.imageio import write_png
    from p2peval.core.progress import progress
    from p2peval.report.scorefile import sha256_file

    dev = resolve_device(device)
    G, info = load_generator(Path(run), dev)
    config = info["config"]
    size = size or config.data.crop_size
    unit = 2 ** config.generator.num_downs
    if size < unit or size % unit:
        raise ConfigError(f"--size {size}: must be a positive multiple of {unit} "
                          f"(2^num_downs of this generator)")
    # labels -> photo (AtoB on the native layout) reads no photos: only the labels are needed
    need_photo = config.data.direction == "BtoA" or config.data.mode == "colorization"
    layout, records = list_records(data, config.data.layout, split, need_photo=need_photo)
    ds = PairDataset(records, config.data, train=False, size=size)
    out = Path(out)
    _refuse_foreign_images(out, records, real_images)
    out.mkdir(parents=True, exist_ok=True)
    G.train(not eval_mode)
    torch.manual_seed(seed)  # dropout masks at test time
    colorization = config.data.mode == "colorization"
    names = []
    bar = progress(total=len(ds), desc=f"translate {Path(run).name}", unit="img", disable=not show_progress)
    with torch.no_grad():
        for i in range(len(ds)):
            item, rec = ds[i], records[i]
            A = item["A"][None].to(dev)  # (1, Cin, size, size)
            fake = G(A)[0].float()       # (Cout, size, size)
            if colorization:
                fake_img = lab_to_uint8(item["A"], fake)
                real_A = to_uint8(item["A"].repeat(3, 1, 1), rounding)  # the lightness as grey
                real_B = lab_to_uint8(item["A"], item["B"])
            else:
                fake_img, real_A, real_B = (to_uint8(fake, rounding), to_uint8(item["A"], rounding),
                                            to_uint8(item["B"], rounding))
            if rec.is_cityscapes:
                name = f"{rec.id}_leftImg8bit.png"
                write_png(out / name, fake_img, photo=True)
            else:
                name = f"{rec.id}_fake_B.png"
                write_png(out / name, fake_img, photo=True)
                if real_images:
                    write_png(out / f"{rec.id}_real_A.png", real_A)
                    write_png(out / f"{rec.id}_real_B.png", real_B)
            names.append(name)
            bar.update(1)
    bar.close()
    manifest = {
        "trainer": "pix2pix",
        "config": config.to_dict(),
        "checkpoint": str(info["checkpoint"]),
        "checkpoint_sha256": sha256_file(info["checkpoint"]),
        "checkpoint_step": info["step"],
        "dataset": str(Path(data)),
        "layout": layout,
        "split": split,
        "direction": config.data.direction,
        "mode": config.data.mode,
        "size": [size, size],
        "generator_mode": "eval (running statistics, no dropout)" if eval_mode
                          else "train (batch statistics, dropout on), as in the paper",
        "seed": seed,
        "rounding": rounding,
        "n_images": len(names),
        "outputs": names,
    }
    write_json_atomic(out / "manifest.json", manifest)
    return out
