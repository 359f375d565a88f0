"""Percentile bootstrap helpers shared by metrics that pool per-item statistics.

A resample is a vector of multiplicities (how often each item is drawn), so a pooled statistic
of a resample is a matrix product ``weights @ per_item``: no per-resample Python loop over items.
Resamples are drawn in chunks so memory stays bounded for any number of resamples.
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np


def resample_weights(rng: np.random.Generator, n_items: int, size: int) -> np.ndarray:
    """(size, n_items) int64 multiplicities of ``size`` bootstrap resamples of ``n_items`` items."""
    return rng.multinomial(n_items, np.full(n_items, 1.0 / n_items), size=size)


def weight_chunks(rng: np.random.Generator, n_items: int, n_resamples: int,
                  chunk: int = 256) -> Iterator[np.ndarray]:
    """Yield the resample weights in chunks of at most ``chunk`` rows."""
    for start in range(0, n_resamples, chunk):
        yield resample_weights(rng, n_items, min(chunk, n_resamples - start))


def percentile_interval(samples: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Two-sided percentile interval of bootstrap samples (1-D)."""
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    return float(np.quantile(samples, lo_q)), float(np.quantile(samples, hi_q))


def summarise(samples: dict[str, np.ndarray], level: float) -> dict:
    """``{name: [lo, hi], name + "_se": sd}`` for each statistic's bootstrap samples."""
    out: dict = {}
    for name, v in samples.items():
        v = np.asarray(v, dtype=np.float64)
        out[name] = list(percentile_interval(v, level))
        out[name + "_se"] = float(v.std(ddof=1)) if len(v) > 1 else 0.0
    return out


def bootstrap(statistic: Callable[..., dict[str, np.ndarray]], sizes: tuple[int, ...], *,
              paired: bool, n_resamples: int = 1000, seed: int = 0, chunk: int = 256) -> dict[str, np.ndarray]:
    """Bootstrap samples of a statistic of one or several item sets.

    ``statistic(*weights)`` gets one (b, n_i) weight matrix per set and returns ``{name: (b,)}``.
    ``paired``: all sets have the same items in the same order and share each draw; otherwise
    every set is resampled independently. Returns ``{name: (n_resamples,)}``.
    """
    rng = np.random.default_rng(seed)
    if paired and len(set(sizes)) != 1:
        raise ValueError(f"paired bootstrap needs sets of equal size, got {sizes}")
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, n_resamples, chunk):
        b = min(chunk, n_resamples - start)
        if paired:
            w = resample_weights(rng, sizes[0], b)
            ws = [w] * len(sizes)
        else:
            ws = [resample_weights(rng, n, b) for n in sizes]
        for name, v in statistic(*ws).items():
            parts.setdefault(name, []).append(np.asarray(v, dtype=np.float64))
    return {name: np.concatenate(v) for name, v in parts.items()}
