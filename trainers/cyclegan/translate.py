"""Run one of a CycleGAN run's generators over a dataset split and write a results folder (PNG
images named by input id + ``manifest.json``).

``AtoB`` runs G_A over domain A, ``BtoA`` runs G_B over domain B. Cityscapes frames become
``<id>_leftImg8bit.png`` in both directions (``fcn-score`` reads labels -> photo folders,
``label-score`` photo -> labels folders directly); other inputs ``<stem>_fake_B.png`` with
``<stem>_real_A.png`` beside it (``_fake_A`` / ``_real_B`` for BtoA), as the reference names them.

Instance norm without running statistics and no dropout make train and eval mode identical, so the
output does not depend on a seed. The generator is fully convolutional: any multiple of 4 works.
"""

from __future__ import annotations

from pathlib import Path

import torch

from p2peval.core.device import resolve_device
from p2peval.core.errors import ConfigError, InputError
from trainers.common.images import resize, to_tensor, to_uint8
from trainers.common.results import refuse_foreign_images
from trainers.common.runtime import CHECKPOINT
from trainers.cyclegan.data import list_domain, load_image
from trainers.cyclegan.networks import build_generator
from trainers.cyclegan.train import GENERATOR, read_config

DIRECTIONS = ("AtoB", "BtoA")


def load_generator(run: Path, direction: str, device: torch.device) -> tuple[torch.nn.Module, dict]:
    """G_A (``AtoB``) or G_B (``BtoA``) of a run folder (``generator.pt``, else the latest checkpoint)."""
    if direction not in DIRECTIONS:
        raise ConfigError(f"--direction {direction!r}: must be AtoB or BtoA")
    run = Path(run)
    config = read_config(run)
    path = run / GENERATOR if (run / GENERATOR).exists() else run / CHECKPOINT
    if not path.exists():
        raise InputError("run folder has no generator.pt or checkpoint.pt (did training start?)", run)
    name = "G_A" if direction == "AtoB" else "G_B"
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
        weights = state[name] if name in state else state["model"][name]
    except Exception as e:
        raise InputError(f"unreadable checkpoint ({str(e).splitlines()[0][:120]})", path) from None
    d, g = config.data, config.generator
    cin, cout = (d.channels_A, d.channels_B) if direction == "AtoB" else (d.channels_B, d.channels_A)
    G = build_generator(cin, cout, g.ngf, g.n_blocks, g.norm)
    try:
        G.load_state_dict(weights)
    except RuntimeError as e:
        raise InputError(f"checkpoint does not match config.json ({str(e).splitlines()[0][:160]})", path) from None
    return G.to(device).eval(), {"config": config, "checkpoint": path, "step": state.get("step"),
                                 "generator": name}


def _rgb(x: torch.Tensor, rounding: str):
    """(C, H, W) in [-1, 1] -> (H, W, 3) uint8; a greyscale domain is repeated to RGB."""
    return to_uint8(x.repeat(3, 1, 1) if x.shape[0] == 1 else x, rounding)


def translate(run: Path, data: Path, out: Path, direction: str = "AtoB", size: int | None = None,
              split: str | None = None, device: str = "auto", real_images: bool = True,
              rounding: str = "round", show_progress: bool = True) -> Path:
    """Translate every image of one domain of ``data``/``split`` into ``out``; returns ``out``.

    ``split`` defaults to ``test`` for ``testA``/``testB`` folders and ``val`` otherwise.
    """
    from p2peval.core.atomic import write_json_atomic
    from p2peval.core.imageio import write_png
    from p2peval.core.progress import progress
    from p2peval.report.scorefile import sha256_file

    dev = resolve_device(device)
    G, info = load_generator(Path(run), direction, dev)
    config = info["config"]
    size = size or config.data.crop_size
    if size < 4 or size % 4:
        raise ConfigError(f"--size {size}: must be a positive multiple of 4 (two stride-2 convs)")
    src, dst = ("A", "B") if direction == "AtoB" else ("B", "A")
    channels = config.data.channels_A if src == "A" else config.data.channels_B
    layout = config.data.layout
    if split is None:
        from trainers.cyclegan.data import detect
        split = "test" if (layout == "unaligned" or (layout == "auto" and detect(Path(data), "test") == "unaligned")) \
            else "val"
    # labels -> photo on the Cityscapes layout reads no photos
    layout, records = list_domain(data, layout, split, src, need_photo=src == "B")

    def names(rec):
        if rec.is_cityscapes:
            return [f"{rec.id}_leftImg8bit.png"]
        return [f"{rec.id}_fake_{dst}.png"] + ([f"{rec.id}_real_{src}.png"] if real_images else [])

    out = Path(out)
    refuse_foreign_images(out, (n for rec in records for n in names(rec)))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    bar = progress(total=len(records), desc=f"translate {Path(run).name} {direction}", unit="img",
                   disable=not show_progress)
    with torch.no_grad():
        for rec in records:
            x = to_tensor(resize(load_image(rec, channels), size, rec.is_label))  # (C, size, size)
            fake = G(x[None].to(dev))[0].float()
            first, *rest = names(rec)
            write_png(out / first, _rgb(fake, rounding), photo=True)
            if rest:
                write_png(out / rest[0], _rgb(x, rounding))
            written.append(first)
            bar.update(1)
    bar.close()
    write_json_atomic(out / "manifest.json", {
        "trainer": "cyclegan",
        "generator": info["generator"],
        "direction": direction,
        "config": config.to_dict(),
        "checkpoint": str(info["checkpoint"]),
        "checkpoint_sha256": sha256_file(info["checkpoint"]),
        "checkpoint_step": info["step"],
        "dataset": str(Path(data)),
        "layout": layout,
        "split": split,
        "size": [size, size],
        "rounding": rounding,
        "n_images": len(written),
        "outputs": written,
    })
    return out
