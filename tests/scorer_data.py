"""A tiny Cityscapes-layout dataset for scorer tests (independent of the toy-city generator).

Scenes are sky over road with a sidewalk, a building and a car; photos are the class colours plus
noise, so a tiny FCN learns them in a few dozen steps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

# Raw Cityscapes label ids -> colours used for the photos (not the label colours, on purpose).
PHOTO_COLORS = {0: (0, 0, 0), 7: (90, 90, 90), 8: (200, 180, 170), 11: (150, 60, 40),
                23: (120, 170, 230), 26: (200, 20, 20)}


def make_cityscapes(root: str | Path, n_train: int = 4, n_val: int = 2, h: int = 32, w: int = 64,
                    seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    root = Path(root)
    for split, n in (("train", n_train), ("val", n_val)):
        for k in range(n):
            city = ("aachen", "bonn")[k % 2]
            fid = f"{city}_{k:06d}_000019"
            lab = np.full((h, w), 23, np.uint8)  # sky
            hor = int(rng.integers(h // 3, h // 2))
            lab[hor:] = 7  # road
            lab[hor:, : w // 4] = 8  # sidewalk
            lab[: hor, w - w // 5:] = 11  # building
            x0 = int(rng.integers(0, w - w // 4))
            lab[max(hor - h // 6, 0): hor + h // 8, x0: x0 + w // 5] = 26  # car
            lab[:1] = 0  # unlabeled (ignored)
            lut = np.zeros((256, 3), np.int16)
            for i, c in PHOTO_COLORS.items():
                lut[i] = c
            photo = np.clip(lut[lab] + rng.integers(-25, 26, (h, w, 3)), 0, 255).astype(np.uint8)
            d = root / "gtFine" / split / city
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(lab).save(d / f"{fid}_gtFine_labelIds.png")
            d = root / "leftImg8bit" / split / city
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(photo).save(d / f"{fid}_leftImg8bit.png")
    return root


def train(data, out, **flat):
    """``train_scorer`` with flat keyword arguments: the training settings (``ScorerTrainConfig``)
    and the run options (``ScorerTrainRun``) mixed, as a test writes them."""
    from dataclasses import fields

    from p2peval.scorers import train as train_mod

    cfg_names = {f.name for f in fields(train_mod.ScorerTrainConfig)}
    run_names = {f.name for f in fields(train_mod.ScorerTrainRun)}
    unknown = set(flat) - cfg_names - run_names
    assert not unknown, f"not a training option: {sorted(unknown)}"
    cfg = train_mod.ScorerTrainConfig(**{k: v for k, v in flat.items() if k in cfg_names})
    run = train_mod.ScorerTrainRun(**{k: v for k, v in flat.items() if k in run_names})
    return train_mod.train_scorer(data, cfg, out=out, run=run)
