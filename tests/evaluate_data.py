"""Tiny Cityscapes-like data and scorers for the evaluator tests (built by the tests themselves)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from p2peval.data.labels import LABELS

RAW_IDS = np.array([lab.id for lab in LABELS], dtype=np.uint8)  # includes ignored ids


def frame_ids(n: int, cities=("bochum", "aachen", "frankfurt")) -> list[str]:
    return [f"{cities[i % len(cities)]}_{i // len(cities):06d}_{19 * i + 1:06d}" for i in range(n)]


def write_cityscapes(root: Path, n: int, label_hw=(32, 64), seed: int = 0, split: str = "val") -> list[str]:
    """gtFine label ids (blocky random raw ids, ignored ids included) for ``n`` frames."""
    rng = np.random.default_rng(seed)
    ids = frame_ids(n)
    h, w = label_hw
    for fid in ids:
        city = fid.rsplit("_", 2)[0]
        d = root / "gtFine" / split / city
        d.mkdir(parents=True, exist_ok=True)
        blocks = rng.choice(RAW_IDS, size=(h // 8, w // 8))
        lab = np.kron(blocks, np.ones((8, 8), dtype=np.uint8)).astype(np.uint8)
        Image.fromarray(lab).save(d / f"{fid}_gtFine_labelIds.png")
    return ids


def write_results(folder: Path, names: list[str], hw=(32, 32), seed: int = 1) -> list[Path]:
    """Random smooth-ish RGB PNGs, one per name."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name in names:
        small = rng.integers(0, 256, size=(hw[0] // 4, hw[1] // 4, 3), dtype=np.uint8)
        img = np.asarray(Image.fromarray(small).resize((hw[1], hw[0]), Image.BILINEAR))
        noise = rng.integers(-20, 21, size=img.shape)
        img = np.clip(img.astype(int) + noise, 0, 255).astype(np.uint8)
        p = folder / name
        Image.fromarray(img).save(p)
        out.append(p)
    return out


def make_scorer(path: Path, arch: str = "fcn8s-tiny", seed: int = 0, gain: float = 3.0) -> Path:
    """A scorer with random weights (scaled so predictions vary across classes)."""
    from p2peval.scorers.checkpoint import save_scorer
    from p2peval.scorers.registry import build_scorer

    torch.manual_seed(seed)
    model, config = build_scorer(arch)
    with torch.no_grad():
        for name, prm in model.named_parameters():
            if name.endswith("weight"):
                prm.mul_(gain)
            else:
                prm.normal_(0, 1.0)
    save_scorer(path, model, arch=arch, config=config)
    return path


def scoring_options(**flat) -> dict:
    """Flat keyword arguments (``cityscapes=..., workers=0, n_resamples=50``) as the grouped
    options of ``fcn_score``/``label_score`` (``truth``, ``intervals``, ``run``)."""
    from dataclasses import fields

    from p2peval.scoring.options import Execution, GroundTruth, Intervals

    out = {}
    for name, cls in (("truth", GroundTruth), ("intervals", Intervals), ("run", Execution)):
        names = {f.name for f in fields(cls)}
        out[name] = cls(**{k: flat.pop(k) for k in list(flat) if k in names})
    out.update(flat)  # protocol, label, scorer
    return out
