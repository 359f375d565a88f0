"""Segment: what a scorer sees, the library function behind ``p2peval segment``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from p2peval.core.atomic import atomic_path
from p2peval.core.errors import InputError
from p2peval.scoring.protocols import get_protocol


def segment(images, *, scorer, out, protocol: str = "pix2pix", save_scores: bool = False,
            device: str = "cpu", size: tuple[int, int] | None = None, cityscapes=None,
            split: str = "val", show_progress: bool = True) -> dict:
    """Write what the scorer sees for every image of ``images``.

    Per image ``<stem>``: ``<stem>_trainIds.png`` (argmax; 19 = the extra output of the reference
    FCN-8s), ``<stem>_color.png`` (class colours, black for 19), and with ``save_scores``
    ``<stem>_scores.npy``, the raw scores as float32 (C, H, W). The image is brought to the
    protocol's evaluation size first: for ``pix2pix*`` the size of its Cityscapes label (with
    ``cityscapes``), else ``size``, else 1024x2048; for ``fast`` its own size.
    """
    from p2peval.core.atomic import write_json_atomic
    from p2peval.core.device import check_device
    from p2peval.core.imageio import (
        list_images,
        pil_bilinear_resize,
        read_rgb,
        write_png,
    )
    from p2peval.core.progress import progress
    from p2peval.data.cityscapes import find_cityscapes_root, frame_id, list_frames
    from p2peval.data.labels import train_ids_to_color
    from p2peval.scorers.checkpoint import scorer_fingerprint
    from p2peval.scoring.inference import (
        load_checked_scorer,
        preprocess,
        preprocess_table,
        scorer_logits,
        tf32_disabled,
    )

    proto = get_protocol(protocol)
    device = check_device(device)
    images, out = Path(images), Path(out)
    files = list_images(images)
    if not files:
        raise InputError("empty folder (no image files)", images)
    label_of = {}
    if cityscapes is not None:
        label_of = {f.id: f.label_ids for f in list_frames(find_cityscapes_root(cityscapes), split)}
    model, meta, multiple = load_checked_scorer(scorer, device)
    table = torch.from_numpy(preprocess_table(proto)).to(device)
    written = []
    with tf32_disabled(device, proto), torch.inference_mode():
        for path in progress(files, desc="segment", unit="img", disable=not show_progress):
            rgb = read_rgb(path)
            if proto.eval_resolution == "label":
                fid = frame_id(path.name)
                if fid in label_of:
                    from p2peval.data.datasets import image_size
                    target = image_size(label_of[fid])
                else:
                    target = tuple(size) if size else (1024, 2048)
                if rgb.shape[:2] != target:
                    rgb = pil_bilinear_resize(rgb, target)
            elif size and rgb.shape[:2] != tuple(size):
                rgb = pil_bilinear_resize(rgb, tuple(size))
            x = torch.from_numpy(np.require(rgb, requirements=["C", "W"]))[None].to(device)
            logits = scorer_logits(model, preprocess(x, proto, table), multiple)[0]  # (K, H, W)
            ids = logits.argmax(0).to(torch.uint8).cpu().numpy()
            stem = path.stem
            write_png(out / f"{stem}_trainIds.png", ids)
            write_png(out / f"{stem}_color.png", train_ids_to_color(ids))
            if save_scores:
                _save_npy(out / f"{stem}_scores.npy", logits.float().cpu().numpy())
            written.append(stem)
    info = {"images": str(images), "n_images": len(written), "protocol": proto.settings(),
            "scorer": scorer_fingerprint(meta), "save_scores": save_scores, "device": device,
            "outputs": [f"{s}_trainIds.png" for s in written]}
    write_json_atomic(out / "segment.json", info)
    return info


def _save_npy(path: Path, arr: np.ndarray) -> None:
    """np.save via a temporary file and rename."""
    with atomic_path(path, ".npy") as tmp:
        np.save(tmp, arr.astype(np.float32))
