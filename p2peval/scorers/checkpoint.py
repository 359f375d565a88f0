"""Scorer checkpoints: weights plus the metadata that ``fcn-score`` verifies before scoring.

A checkpoint is a ``torch.save`` dict::

    {"format": "p2peval-scorer", "version": 1,
     "arch": "fcn8s", "config": {...}, "classes": [19 names], "num_outputs": 20,
     "protocol": "pix2pix", "weights_sha256": "...", "state_dict": {...},
     "training": {...} | None, "source": {...} | None}

``weights_sha256`` is the sha256 over the state dict (sorted names, each name, dtype, shape and
raw bytes), so it identifies the weights whatever the file's container.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
import torch.nn as nn

from p2peval.core.atomic import atomic_path
from p2peval.core.errors import InputError
from p2peval.data.labels import CLASS_NAMES

FORMAT = "p2peval-scorer"
VERSION = 1


def weights_sha256(state_dict: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for name in sorted(state_dict):
        t = state_dict[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}\n".encode())
        # Hash the tensor's own buffer (no copy: a 400 MB layer would double peak memory).
        h.update(memoryview(t.numpy()).cast("B") if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()


def scorer_fingerprint(meta: dict) -> dict:
    """What a score file records about its scorer."""
    return {k: meta.get(k) for k in ("arch", "config", "num_outputs", "protocol", "weights_sha256",
                                      "source", "path")}


def save_scorer(path: str | Path, model: nn.Module, *, arch: str, config: dict,
                protocol: str = "pix2pix", classes=CLASS_NAMES, training: dict | None = None,
                source: dict | None = None, extra: dict | None = None) -> dict:
    """Write a checkpoint atomically (temp file + rename); returns its metadata."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    meta = {
        "format": FORMAT, "version": VERSION, "arch": arch, "config": dict(config),
        "classes": list(classes), "num_outputs": int(config.get("num_outputs", len(classes))),
        "protocol": protocol, "weights_sha256": weights_sha256(state),
        "training": training, "source": source,
    }
    with atomic_path(path) as tmp:
        torch.save({**meta, "state_dict": state, **(extra or {})}, tmp)
    return meta


def read_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint dict, refusing files that are not p2peval scorers (one clear line)."""
    path = Path(path)
    if not path.exists():
        raise InputError("no such scorer checkpoint", path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for corrupt files
        raise InputError(f"not a readable scorer checkpoint ({type(e).__name__}: {str(e).splitlines()[0][:120]})", path) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise InputError("not a p2peval scorer checkpoint (no 'format': 'p2peval-scorer'); "
                         "import Caffe models with 'p2peval scorer import-caffe'", path)
    return ckpt


def load_scorer(path: str | Path, *, arch: str | None = None, classes=CLASS_NAMES,
                verify: bool = True) -> tuple[nn.Module, dict]:
    """Build the model of a checkpoint and load its weights, verifying its metadata.

    Refuses a checkpoint of another architecture (when ``arch`` is given), another class set, a
    state dict that does not fit the architecture, or weights whose sha256 differs from the one
    recorded. Returns ``(model in eval mode on CPU, metadata)``.
    """
    from p2peval.scorers.registry import build_scorer

    path = Path(path)
    ckpt = read_checkpoint(path)
    meta = {k: v for k, v in ckpt.items() if k != "state_dict"}
    meta["path"] = str(path)
    if arch is not None and ckpt.get("arch") != arch:
        raise InputError(f"checkpoint is a {ckpt.get('arch')!r} scorer, expected {arch!r}", path)
    if list(ckpt.get("classes", [])) != list(classes):
        raise InputError(f"checkpoint's class set ({len(ckpt.get('classes', []))} classes: "
                         f"{', '.join(list(ckpt.get('classes', []))[:3])}...) is not the 19 Cityscapes classes", path)
    state = ckpt["state_dict"]
    if verify and weights_sha256(state) != ckpt.get("weights_sha256"):
        raise InputError("weights do not match the sha256 recorded in the checkpoint (corrupt or edited file)", path)
    model, _ = build_scorer(ckpt["arch"], ckpt.get("config"))
    expected = model.state_dict()
    for name, t in expected.items():
        if name not in state:
            raise InputError(f"checkpoint lacks parameter {name} of architecture {ckpt['arch']}", path)
        if tuple(state[name].shape) != tuple(t.shape):
            raise InputError(f"parameter {name} has shape {tuple(state[name].shape)}, "
                             f"architecture {ckpt['arch']} expects {tuple(t.shape)}", path)
    unexpected = sorted(set(state) - set(expected))
    if unexpected:
        raise InputError(f"checkpoint has parameters unknown to {ckpt['arch']}: {', '.join(unexpected[:3])}", path)
    model.load_state_dict(state)
    model.eval()
    return model, meta
