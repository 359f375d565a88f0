"""Texture tiles for toy-city: tileable noise, precomputed once per seed.

Tiles are (T, T) float32 arrays with zero mean and unit standard deviation that wrap around at
the edges, so any integer coordinate can be looked up with ``& (T - 1)``. Every surface samples
them in its own world coordinates (metres along a facade, across the road, ...), which gives
perspective-correct detail without per-pixel Python loops.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

TILE = 256  # tile side (power of two: coordinates wrap with & (TILE - 1))


@dataclass(frozen=True)
class Textures:
    """Noise tiles of increasing feature size (pixels of the tile): fine ~1, mid ~4, low ~16."""

    fine: np.ndarray  # (TILE, TILE) float32, white-ish noise
    mid: np.ndarray  # (TILE, TILE) float32
    low: np.ndarray  # (TILE, TILE) float32
    sensor: np.ndarray  # (TILE, TILE, 3) float32 per-channel camera noise (grey levels)


def _smooth_wrap(white: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-filter a tile with wrap-around (via FFT), normalised to mean 0 std 1."""
    n = white.shape[0]
    k = np.fft.fftfreq(n)
    g = np.exp(-2.0 * (np.pi * sigma) ** 2 * (k[:, None] ** 2 + k[None, :] ** 2))
    out = np.real(np.fft.ifft2(np.fft.fft2(white) * g))
    out -= out.mean()
    out /= out.std() + 1e-12
    return out.astype(np.float32)


@lru_cache(maxsize=4)
def textures_for_seed(seed: int) -> Textures:
    """The texture tiles of a dataset seed (deterministic; cached per process)."""
    rng = np.random.default_rng([int(seed), 7919])
    white = rng.standard_normal((3, TILE, TILE))
    sensor = (3.5 * rng.standard_normal((TILE, TILE, 3))).astype(np.float32)
    return Textures(fine=_smooth_wrap(white[0], 0.6), mid=_smooth_wrap(white[1], 2.5),
                    low=_smooth_wrap(white[2], 10.0), sensor=sensor)


def sample(tile: np.ndarray, u, v) -> np.ndarray:
    """Look up ``tile`` at (u, v) tile-pixel coordinates (any shape, broadcast; wraps)."""
    m = TILE - 1
    iu = np.asarray(u).astype(np.int32) & m
    iv = (np.asarray(v).astype(np.int32) & m) << 8  # TILE == 2 ** 8
    return tile.reshape(-1).take(iv | iu)
