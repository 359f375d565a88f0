"""Bootstrap helpers shared by every metric with an interval: resampling and the interval rule.

A resample is a vector of multiplicities (how often each item is drawn), so a pooled statistic
of a resample is a matrix product ``weights @ per_item``: no per-resample Python loop over items.
Resamples are drawn in chunks so memory stays bounded for any number of resamples.

Interval rule (``INTERVAL``, recorded as ``ci.interval`` in every score file): the *basic*
bootstrap interval ``[2 t - q_hi, 2 t - q_lo]``, where ``t`` is the estimate and ``q_lo``, ``q_hi``
the bootstrap quantiles at ``(1 - level) / 2`` and ``(1 + level) / 2``; clipped to the statistic's
range; and widened to reach ``t`` in the rare case it lies beyond the estimate (names listed under
``widened_to_estimate``). It assumes that the resampled statistic lies around the estimate as the
estimate lies around the true value, so a statistic that resampling pulls down (histogram
intersection: a resampled set always looks less like the reference) has its interval moved up
by the same amount. The percentile interval moves the wrong way and misses its own estimate;
BCa, tried on the same data, covers badly (``docs/intervals.md`` has the figures).
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


INTERVAL = "basic"
INTERVAL_RULE = ("basic bootstrap interval [2 t - q_hi, 2 t - q_lo] (t the estimate, q the bootstrap "
                 "quantiles), clipped to the statistic's range, widened to reach t where needed")


def basic_interval(samples: np.ndarray, estimate: float, level: float = 0.95,
                   bounds: tuple[float, float] | None = None) -> tuple[float, float, bool]:
    """``(lo, hi, widened)``: the basic bootstrap interval of ``estimate`` from its replicates.

    ``bounds``: the statistic's range, the interval is clipped to it. ``widened`` is True when the
    interval had to be stretched to contain the estimate (the replicates lie almost all on one
    side of it: a bias of more than about two standard errors).
    """
    v = np.asarray(samples, dtype=np.float64)
    t = float(estimate)
    q_lo, q_hi = np.quantile(v, [(1 - level) / 2, 1 - (1 - level) / 2])
    lo, hi = 2 * t - float(q_hi), 2 * t - float(q_lo)
    if bounds is not None:
        lo, hi = (min(max(x, bounds[0]), bounds[1]) for x in (lo, hi))
    tol = 1e-12 * max(1.0, abs(t))  # replicates equal to t up to rounding are not a bias
    widened = lo > t + tol or hi < t - tol
    return min(lo, t), max(hi, t), bool(widened)


def summarise(samples: dict[str, np.ndarray], estimates: dict[str, float], level: float,
              bounds: tuple[float, float] | None = None) -> dict:
    """``{name: [lo, hi], name + "_se": sd, name + "_bias": mean - estimate}`` for each statistic,
    plus ``interval`` and, when any interval was widened, ``widened_to_estimate`` (names)."""
    out: dict = {"interval": INTERVAL}
    widened = []
    for name, v in samples.items():
        v = np.asarray(v, dtype=np.float64)
        lo, hi, w = basic_interval(v, estimates[name], level, bounds)
        out[name] = [lo, hi]
        out[name + "_se"] = float(v.std(ddof=1)) if len(v) > 1 else 0.0
        out[name + "_bias"] = float(v.mean() - estimates[name])
        if w:
            widened.append(name)
    if widened:
        out["widened_to_estimate"] = widened
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
