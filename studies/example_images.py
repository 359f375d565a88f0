"""The images of the two example studies under ``studies/examples/`` (tiny, synthetic, seeded).

* ``colorization`` (same-input): real colour scenes ``sceneNNN_real_B.png``; two algorithms make
  ``sceneNNN_fake_B.png`` from the same scenes: ``desaturated`` (colours pulled towards grey) and
  ``tinted`` (a warm colour cast).
* ``maps`` (different-input): real aerial-like tiles ``aerialNNN.png``; two algorithms make tiles
  ``tileNNN_fake_B.png`` of other places: ``smooth`` (blurred) and ``noisy`` (grainy).

Regenerate with ``python -m studies.example_images`` (from the repository root).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from p2peval.core.imageio import write_png
from studies.demo import _scene

EXAMPLES = Path(__file__).with_name("examples")
N_IMAGES = 12
SIZE = 32


def _aerial(rng: np.random.Generator, size: int) -> np.ndarray:
    """(size, size, 3) uint8: fields of green and brown crossed by grey roads."""
    cells = rng.integers(0, 2, (4, 4))
    colours = np.array([[70, 110, 50], [140, 110, 70]], np.float64)
    img = np.kron(colours[cells], np.ones((size // 4, size // 4, 1)))
    img += rng.normal(0, 12, img.shape)
    for _ in range(2):
        r = int(rng.integers(2, size - 2))
        img[r - 1:r + 1] = 150
        img[:, r - 1:r + 1] = 150
    return np.clip(img, 0, 255).astype(np.uint8)


def write_colorization(out: Path, n: int = N_IMAGES, size: int = SIZE, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for i in range(n):
        scene = _scene(rng, size).astype(np.float64)
        grey = scene.mean(2, keepdims=True)
        write_png(out / "real" / f"scene{i:03d}_real_B.png", scene.astype(np.uint8))
        write_png(out / "results" / "desaturated" / f"scene{i:03d}_fake_B.png",
                  (grey + 0.35 * (scene - grey)).astype(np.uint8))
        tint = np.clip(scene * [1.15, 1.0, 0.8], 0, 255)
        write_png(out / "results" / "tinted" / f"scene{i:03d}_fake_B.png", tint.astype(np.uint8))


def write_maps(out: Path, n: int = N_IMAGES, size: int = SIZE, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for i in range(n):
        write_png(out / "real" / f"aerial{100 + i:03d}.png", _aerial(rng, size))
    for i in range(n):
        tile = _aerial(rng, size)
        smooth = np.asarray(Image.fromarray(tile).filter(ImageFilter.GaussianBlur(1.5)))
        write_png(out / "results" / "smooth" / f"tile{i:03d}_fake_B.png", smooth)
        grain = np.clip(tile + rng.normal(0, 30, tile.shape), 0, 255).astype(np.uint8)
        write_png(out / "results" / "noisy" / f"tile{i:03d}_fake_B.png", grain)


if __name__ == "__main__":
    write_colorization(EXAMPLES / "colorization")
    write_maps(EXAMPLES / "maps")
    print(f"wrote the example images under {EXAMPLES}")
