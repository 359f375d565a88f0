"""Synthetic populations with known metric values, for checking how often intervals cover them.

Colour: each channel's population histogram is a mixture of Gaussian bumps over the bin centres;
an image mixes the bumps with its own weights (Dirichlet around the population's), and its
pixels are drawn from that mixture, so the expected pooled histogram is the population's exactly
and the population intersection is ``sum(min(p, q))`` of the two mixtures.

FCN-score: each frame shows each class with a fixed probability, with a random pixel count and a
random accuracy around the class's (Beta); wrong pixels go to the next class. The population
scores follow from the expected confusion matrix, computed here in closed form.

Run as a script to compare interval rules on these populations (the figures in docs/intervals.md):
``PYTHONPATH=. python tests/interval_populations.py``.
"""

from __future__ import annotations

import numpy as np

from p2peval.metrics.color import CHANNELS, LabBins

N_CLASSES = 19

# (mean, sd) of the bumps per channel, and the mixture weights of the two populations.
_BUMPS = {"L": ((30, 8), (55, 10), (75, 8), (90, 4)),
          "a": ((-10, 5), (0, 3), (8, 6), (25, 10)),
          "b": ((-25, 8), (-5, 4), (10, 6), (35, 12))}
# "results" differ clearly from the reference (intersections near 0.7, like trained models);
# "near" differ only slightly (intersections near 0.97, like a lightly degraded copy), where the
# plug-in intersection is most biased.
_WEIGHTS = {"reference": (0.3, 0.3, 0.3, 0.1), "results": (0.15, 0.45, 0.15, 0.25),
            "near": (0.3, 0.3, 0.3, 0.1)}
_SHIFT = {"reference": 0.0, "results": 4.0, "near": 0.7}  # bumps of the results sit a little higher


def _components(side: str, bins: LabBins) -> dict[str, np.ndarray]:
    """Per channel (4, n_bins) probabilities of each bump over the bins."""
    out = {}
    for ch in CHANNELS:
        x = bins.channel(ch).centers()
        comp = np.array([np.exp(-0.5 * ((x - m - _SHIFT[side]) / s) ** 2) for m, s in _BUMPS[ch]])
        out[ch] = comp / comp.sum(1, keepdims=True)
    return out


def color_truth(results: str = "results", bins: LabBins = LabBins()) -> dict[str, float]:
    """Population intersection per channel of a results population with the reference one."""
    hist = {side: {ch: np.asarray(_WEIGHTS[side]) @ c for ch, c in _components(side, bins).items()}
            for side in (results, "reference")}
    return {ch: float(np.minimum(hist[results][ch], hist["reference"][ch]).sum()) for ch in CHANNELS}


def color_counts(rng: np.random.Generator, side: str, n_images: int, pixels: int = 1500,
                 concentration: float = 6.0, bins: LabBins = LabBins()) -> np.ndarray:
    """(n_images, bins.total) int64 per-image Lab counts drawn from one population."""
    comps = _components(side, bins)
    w = rng.dirichlet(concentration * np.asarray(_WEIGHTS[side]), size=n_images)  # (n, 4)
    parts = []
    for ch in CHANNELS:
        probs = w @ comps[ch]
        parts.append(rng.multinomial(pixels, probs / probs.sum(1, keepdims=True)))
    return np.concatenate(parts, axis=1).astype(np.int64)


def _class_params(population: str) -> tuple[np.ndarray, np.ndarray]:
    """(presence probability, mean accuracy) per class."""
    g = np.random.default_rng(123)  # the population itself is fixed
    present = g.uniform(0.5, 0.95, N_CLASSES)
    acc = g.uniform(0.3, 0.9, N_CLASSES)
    if population == "worse":
        acc = acc * 0.9
    return present, acc


PIXELS = (100, 400)  # uniform pixel count of a present class in a frame


def confusion_frames(rng: np.random.Generator, n_frames: int, population: str = "base",
                     kappa: float = 8.0) -> np.ndarray:
    """(n_frames, 19, 20) int64 extended confusion matrices drawn from one population."""
    present, acc = _class_params(population)
    shown = rng.random((n_frames, N_CLASSES)) < present
    tot = rng.integers(PIXELS[0], PIXELS[1] + 1, (n_frames, N_CLASSES)) * shown
    a = rng.beta(kappa * acc, kappa * (1 - acc), (n_frames, N_CLASSES))
    right = rng.binomial(tot, a)
    out = np.zeros((n_frames, N_CLASSES, N_CLASSES + 1), np.int64)
    c = np.arange(N_CLASSES)
    out[:, c, c] = right
    out[:, c, (c + 1) % N_CLASSES] = tot - right
    return out


def confusion_truth(population: str = "base") -> dict[str, float]:
    """Population per-pixel accuracy, per-class accuracy and class IoU (expected matrix)."""
    present, acc = _class_params(population)
    mean_tot = (PIXELS[0] + PIXELS[1]) / 2
    row = present * mean_tot
    diag = row * acc
    col = diag + np.roll(row * (1 - acc), 1)  # class c receives the errors of class c - 1
    return {"per_pixel_acc": float(diag.sum() / row.sum()), "per_class_acc": float(np.mean(acc)),
            "class_iou": float(np.mean(diag / (row + col - diag)))}


def _compare_rules(reps: int = 400, n: int = 40, b: int = 1000, concentration: float = 6.0,
                   results: str = "results") -> None:
    """Coverage of five interval rules on a colour population: percentile, BCa (bias from the
    replicates below the estimate, acceleration from the leave-one-out jackknife), basic
    (``2t - q``), Hall's symmetric (``t +/- the level quantile of |t* - t|``) and p2peval's."""
    from scipy.stats import norm

    from p2peval.metrics.bootstrap import resample_weights, symmetric_interval
    from p2peval.metrics.color import intersection_from_counts

    bins = LabBins()
    truth = color_truth(results, bins)
    rng = np.random.default_rng(0)
    rules = ("percentile", "BCa", "basic", "Hall |t*-t|", "p2peval")
    hits = {rule: {ch: 0 for ch in CHANNELS} for rule in rules}
    ratio = {ch: [] for ch in CHANNELS}
    z = norm.ppf([0.025, 0.975])
    for _ in range(reps):
        res = color_counts(rng, results, n, concentration=concentration)
        ref = color_counts(rng, "reference", n, concentration=concentration)
        t = intersection_from_counts(res.sum(0), ref.sum(0), bins)
        w = resample_weights(rng, n, b).astype(float)
        s = intersection_from_counts(w @ res, w @ ref, bins)
        jack = intersection_from_counts(res.sum(0) - res, ref.sum(0) - ref, bins)  # leave one out
        for ch in CHANNELS:
            v, tc = s[ch], float(t[ch])
            u = jack[ch].mean() - jack[ch]
            acc = (u ** 3).sum() / (6 * (u ** 2).sum() ** 1.5)
            z0 = norm.ppf(np.clip((v < tc).mean() + 0.5 * (v == tc).mean(), 1 / b, 1 - 1 / b))
            levels = norm.cdf(z0 + (z0 + z) / (1 - acc * (z0 + z)))
            ivs = {"percentile": np.quantile(v, [0.025, 0.975]), "BCa": np.quantile(v, levels),
                   "basic": 2 * tc - np.quantile(v, [0.975, 0.025]),
                   "Hall |t*-t|": tc + np.array([-1, 1]) * np.quantile(np.abs(v - tc), 0.95),
                   "p2peval": symmetric_interval(v, tc, 0.95, (0.0, 1.0))}
            for rule, (lo, hi) in ivs.items():
                hits[rule][ch] += lo <= truth[ch] <= hi
            ratio[ch].append((v.mean() - tc) / v.std())
    print(f"colour population {results!r}: {n} image pairs (concentration {concentration:g}), {b} resamples, {reps} samples; truth "
          + ", ".join(f"{ch} {truth[ch]:.3f}" for ch in CHANNELS))
    print("bootstrap bias / SE: " + ", ".join(f"{ch} {np.mean(ratio[ch]):+.2f}" for ch in CHANNELS))
    for rule, h in hits.items():
        print(f"{rule:<12} coverage " + ", ".join(f"{ch} {h[ch] / reps:.3f}" for ch in CHANNELS))


if __name__ == "__main__":
    for population in ("results", "near"):
        _compare_rules(reps=300, n=40, b=500, results=population)
