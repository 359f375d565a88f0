"""A small self-contained study to try the app (and to test it): synthetic real and fake images.

"Real" images are smooth colour fields with fine stripes; each algorithm's "fakes" are the same
scenes blurred by a different amount (stronger blur = easier to spot), named like pix2pix results.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from p2peval.core.imageio import write_png
from studies.config import toml_value


def _scene(rng: np.random.Generator, size: int) -> np.ndarray:
    """(size, size, 3) uint8: smooth gradients plus high-frequency stripes."""
    y, x = np.mgrid[0:size, 0:size] / size
    base = rng.uniform(40, 200, size=3)
    slope = rng.uniform(-60, 60, size=(2, 3))
    freq = rng.uniform(8, 24)
    stripes = 25 * np.sin(2 * np.pi * freq * (x * np.cos(freq) + y * np.sin(freq)))
    img = base + x[..., None] * slope[0] + y[..., None] * slope[1] + stripes[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def write_demo_study(out: str | Path, *, n_images: int = 12, size: int = 64,
                     blur: dict[str, float] | None = None, seed: int = 0,
                     vigilance: int = 0, **settings) -> Path:
    """Write images under ``out`` and ``out/study.toml``; ``settings`` are extra TOML keys."""
    out = Path(out)
    blur = blur or {"sharp": 0.6, "blurry": 2.5}
    rng = np.random.default_rng(seed)
    for i in range(n_images):
        scene = _scene(rng, size)
        write_png(out / "real" / f"scene{i:03d}_real_B.png", scene)
        for algo, radius in blur.items():
            fake = np.asarray(Image.fromarray(scene).filter(ImageFilter.GaussianBlur(radius)))
            write_png(out / "results" / algo / f"scene{i:03d}_fake_B.png", fake)
    lines = [f'name = {toml_value(settings.pop("name", "demo"))}', 'real = "real"']
    for key, value in settings.items():
        lines.append(f"{key} = {toml_value(value)}")
    if vigilance:
        for i in range(3):
            noise = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
            write_png(out / "obvious" / f"noise{i}.png", noise)
    lines.append("")
    lines.append("[algorithms]")
    lines += [f'{algo} = "results/{algo}"' for algo in blur]
    if vigilance:
        lines += ["", "[vigilance]", f"trials = {vigilance}", 'fakes = "obvious"', "max_failures = 0"]
    path = out / "study.toml"
    path.write_text("\n".join(lines) + "\n")
    return path
