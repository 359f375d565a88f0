"""Statistics of real-vs-fake perceptual studies (docs/reference.md section 3).

The headline number is "% labeled real": the share of main trials in which a participant took the
generated image for the real one. Its error bars come from a two-level bootstrap: resample
participants with replacement, then trials within each resampled participant. Two algorithms are
compared by a bootstrap interval of the difference and by a permutation test on participant-level
rates (a proper p-value; participants, not trials, are the independent units). Intervals are the
symmetric bootstrap intervals of ``p2peval.metrics.bootstrap``, like every other interval of p2peval.

Trials are Bernoulli outcomes, so resampling the ``n_i`` trials of participant ``i`` (``k_i`` of
them "labeled real") with replacement gives ``Binomial(n_i, k_i / n_i)`` successes: the inner
level is drawn exactly that way, fully vectorised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BootstrapResult:
    """Point estimate, bootstrap standard error and symmetric bootstrap interval (values in [0, 1])."""

    estimate: float
    se: float
    lo: float
    hi: float
    n_resamples: int
    seed: int
    level: float
    samples: np.ndarray  # (n_resamples,) the bootstrap replicates


def _as_counts(groups) -> tuple[np.ndarray, np.ndarray]:
    """``groups`` is a list of per-participant 0/1 arrays (1 = labeled real) -> (k, n)."""
    k = np.array([int(np.sum(g)) for g in groups], dtype=np.int64)
    n = np.array([len(g) for g in groups], dtype=np.int64)
    if len(n) == 0:
        raise ValueError("no participants")
    if (n <= 0).any():
        raise ValueError("a participant has no trials")
    return k, n


def pooled_rate(k: np.ndarray, n: np.ndarray) -> float:
    """Share of all trials labeled real (participants weighted by their number of trials)."""
    return float(np.sum(k) / np.sum(n))


def _two_level_replicates(k: np.ndarray, n: np.ndarray, n_resamples: int,
                          rng: np.random.Generator) -> np.ndarray:
    """(n_resamples,) pooled rates of two-level bootstrap resamples."""
    p = len(n)
    idx = rng.integers(0, p, size=(n_resamples, p))            # (B, P) participants drawn
    nn = n[idx]                                                 # (B, P) their trial counts
    kk = rng.binomial(nn, k[idx] / n[idx])                      # (B, P) trials resampled within
    return kk.sum(axis=1) / nn.sum(axis=1)


def two_level_bootstrap(groups, *, n_resamples: int = 10000, seed: int = 0,
                        level: float = 0.95) -> BootstrapResult:
    """Two-level bootstrap of the pooled "% labeled real" (as a fraction).

    ``groups``: one 0/1 sequence per participant (1 = the fake was labeled real).
    SE = standard deviation of the replicates; the interval is the symmetric bootstrap interval.
    """
    from p2peval.metrics.bootstrap import symmetric_interval

    k, n = _as_counts(groups)
    rng = np.random.default_rng(seed)
    reps = _two_level_replicates(k, n, n_resamples, rng)
    est = pooled_rate(k, n)
    lo, hi = symmetric_interval(reps, est, level, bounds=(0.0, 1.0))
    return BootstrapResult(est, float(np.std(reps, ddof=1)), lo, hi, n_resamples, seed, level, reps)


def bootstrap_difference(groups_a, groups_b, *, n_resamples: int = 10000, seed: int = 0,
                         level: float = 0.95) -> dict:
    """Bootstrap of rate(A) - rate(B), each side resampled independently on two levels.

    Returns the difference, its SE, symmetric bootstrap interval and ``share_a_greater`` (the share
    of draws where A > B, the reference's way of comparing two algorithms).
    """
    from p2peval.metrics.bootstrap import symmetric_interval

    ka, na = _as_counts(groups_a)
    kb, nb = _as_counts(groups_b)
    rng = np.random.default_rng(seed)
    ra = _two_level_replicates(ka, na, n_resamples, rng)
    rb = _two_level_replicates(kb, nb, n_resamples, rng)
    d = ra - rb
    diff = pooled_rate(ka, na) - pooled_rate(kb, nb)
    lo, hi = symmetric_interval(d, diff, level, bounds=(-1.0, 1.0))
    return {"difference": diff, "se": float(np.std(d, ddof=1)),
            "lo": lo, "hi": hi, "share_a_greater": float(np.mean(d > 0)),
            "n_resamples": n_resamples, "seed": seed, "level": level}


def participant_rates(groups) -> np.ndarray:
    """(P,) per-participant share of trials labeled real."""
    k, n = _as_counts(groups)
    return k / n


def permutation_test(rates_a, rates_b, *, n_resamples: int = 10000, seed: int = 0) -> float:
    """Two-sided permutation test of mean(rates_a) - mean(rates_b) on participant-level rates.

    Participants are shuffled between the two groups. The p-value counts the observed split as one
    of the permutations, ``(1 + #{|d*| >= |d|}) / (1 + n_resamples)``, so it is never 0; when the
    number of distinct splits is at most ``n_resamples`` they are enumerated exactly instead.
    """
    a = np.asarray(rates_a, dtype=np.float64)
    b = np.asarray(rates_b, dtype=np.float64)
    if len(a) == 0 or len(b) == 0:
        raise ValueError("both groups need participants")
    x = np.concatenate([a, b])
    na, n = len(a), len(a) + len(b)
    observed = abs(a.mean() - b.mean())
    # Tolerance so that splits with the same difference up to float rounding count as "as extreme".
    eps = 1e-12 * max(1.0, observed)
    from math import comb
    if comb(n, na) <= n_resamples:
        from itertools import combinations
        total = x.sum()
        count = 0
        splits = 0
        for chosen in combinations(range(n), na):
            sa = x[list(chosen)].sum()
            d = abs(sa / na - (total - sa) / (n - na))
            count += d >= observed - eps
            splits += 1
        return count / splits
    rng = np.random.default_rng(seed)
    count = 0
    chunk = 2000
    done = 0
    while done < n_resamples:
        m = min(chunk, n_resamples - done)
        perm = rng.permuted(np.broadcast_to(x, (m, n)), axis=1)   # (m, n) shuffled copies
        d = np.abs(perm[:, :na].mean(axis=1) - perm[:, na:].mean(axis=1))
        count += int(np.sum(d >= observed - eps))
        done += m
    return (1 + count) / (1 + n_resamples)
