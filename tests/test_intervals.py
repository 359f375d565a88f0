"""Intervals: they contain their estimates, cover known population values at their level, and the
tables' significance marks keep their false-positive rate.

Coverage is estimated over ``REPS`` synthetic samples, so it carries a Monte Carlo error of
``sqrt(p (1 - p) / REPS)``; a rate passes when it lies within ``Z`` such errors of its target.
The seeds are fixed, so each test is deterministic; ``pytest -s`` prints the rates.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from interval_check import interval_violations
from interval_populations import (color_counts, color_truth, confusion_frames, confusion_truth)
from p2peval.metrics.color import CHANNELS, LabBins
from p2peval.metrics.confusion import METRICS, bootstrap_scores
from p2peval.report.tables import Entry, Row, paired_comparison

ROOT = Path(__file__).resolve().parents[1]
LEVEL = 0.95
REPS = 300
RESAMPLES = 300
ITEMS = 30  # images or frames per synthetic sample
Z = 3.0
# Coarser bins than the default (L 100, a and b 256) keep the colour tests at a few seconds; the
# default bins are compared in docs/intervals.md.
BINS = LabBins.parse(L="50", a="64", b="64")
CONCENTRATION = 12.0  # how much alike the images of one population are
MC_ERROR = (LEVEL * (1 - LEVEL) / REPS) ** 0.5


def _score_files() -> list[Path]:
    out = []
    for p in sorted((ROOT / "results").rglob("*.json")):
        try:
            obj = json.loads(p.read_text())
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(obj, dict) and str(obj.get("schema", "")).startswith("p2peval.score/"):
            out.append(p)
    return out


def test_the_check_finds_an_interval_that_misses_its_estimate():
    good = {"values": {"v": 0.5}, "ci": {"v": [0.4, 0.6]},
            "rows": [{"label": "r", "values": {"v": 2.0}, "ci": {"v": [1.0, 3.0]}}],
            "comparisons": [{"a": "x", "b": "y", "difference": -1.0, "ci": [-2.0, 0.5]}]}
    assert interval_violations(good) == []
    assert interval_violations({**good, "ci": {"v": [0.51, 0.6]}}) == ["v: 0.5 outside [0.51, 0.6]"]
    bad_row = {**good, "rows": [{"label": "r", "values": {"v": 2.0}, "ci": {"v": [0.0, 1.0]}}]}
    assert interval_violations(bad_row) == ["row 'r' v: 2.0 outside [0.0, 1.0]"]
    bad_cmp = {**good, "comparisons": [{"a": "x", "b": "y", "difference": 1.0, "ci": [-2.0, 0.5]}]}
    assert len(interval_violations(bad_cmp)) == 1


def test_committed_score_files_hold_their_estimates_and_name_the_rule():
    files = _score_files()
    assert len(files) >= 12  # the toycity-losses rows, FCN-score and colour
    for p in files:
        score = json.loads(p.read_text())
        assert interval_violations(score) == [], p
        assert score["ci"].get("interval") == "symmetric" and "interval_rule" in score["ci"], p


def _covered(lo, hi, truth) -> bool:
    return lo <= truth <= hi


def _assert_rate(hits: int, target: float, what: str, one_sided: bool = False) -> None:
    rate = hits / REPS
    err = (target * (1 - target) / REPS) ** 0.5
    print(f"{what}: {rate:.3f} (target {target:g}, Monte Carlo error {err:.3f})")  # shown with -s
    assert rate <= target + Z * err, f"{what}: {rate:.3f} above {target} by more than {Z} MC errors"
    if not one_sided:
        assert rate >= target - Z * err, f"{what}: {rate:.3f} below {target} by more than {Z} MC errors"


def _color_hist(res: np.ndarray, ref: np.ndarray, seed: int):
    """The colour score of synthetic per-image counts through the library's scoring path."""
    from p2peval.scoring.color_hist import ImageSet, ImageSetHist, score_from_hists

    bins = BINS
    keys = [f"img{i:03d}" for i in range(len(res))]
    side = [ImageSetHist(ImageSet(Path(name), [Path(k) for k in keys], keys, "synthetic"), bins, c,
                         np.zeros(3, np.int64), c[:, :bins.L.n].sum(1))
            for name, c in (("results", res), ("reference", ref))]
    return score_from_hists(*side, label="synthetic", n_resamples=RESAMPLES, seed=seed, level=LEVEL)


@pytest.mark.parametrize("population", ["results", "near"])
def test_colour_intervals_cover_the_population_intersection(population):
    """``results`` unlike the reference (intersections near 0.7); ``near`` nearly like it (0.97),
    where resampling pulls the intersection down by about a standard error."""
    truth = color_truth(population, BINS)
    rng = np.random.default_rng(2024)
    hits = dict.fromkeys(CHANNELS, 0)
    for r in range(REPS):
        res = color_counts(rng, population, ITEMS, concentration=CONCENTRATION, bins=BINS)
        ref = color_counts(rng, "reference", ITEMS, concentration=CONCENTRATION, bins=BINS)
        ci = _color_hist(res, ref, seed=r).score["ci"]
        for ch in CHANNELS:
            hits[ch] += _covered(*ci[ch], truth[ch])
    for ch in CHANNELS:
        _assert_rate(hits[ch], LEVEL, f"coverage of Lab {ch} ({population}, truth {truth[ch]:.3f})")


def test_fcn_score_intervals_cover_the_population_scores():
    truth = confusion_truth()
    rng = np.random.default_rng(7)
    hits = dict.fromkeys(METRICS, 0)
    for r in range(REPS):
        ci = bootstrap_scores(confusion_frames(rng, ITEMS), "reference", n_resamples=RESAMPLES, seed=r,
                              level=LEVEL)
        for m in METRICS:
            hits[m] += _covered(*ci[m], truth[m])
    for m in METRICS:
        _assert_rate(hits[m], LEVEL, f"coverage of {m}")


def _row(label: str, metric: str, score: dict) -> Row:
    row = Row(label)
    row.entries[metric] = Entry(metric, score["values"], score.get("ci", {}), {}, None, score)
    return row


def test_colour_significance_marks_keep_their_false_positive_rate():
    """Two rows drawn from one population, against one reference: a mark is a false positive."""
    rng = np.random.default_rng(11)
    bins = json.dumps(BINS.to_dict())
    ids = np.array([f"img{i:03d}" for i in range(ITEMS)])
    marks = dict.fromkeys(CHANNELS, 0)
    for r in range(REPS):
        ref = color_counts(rng, "reference", ITEMS, concentration=CONCENTRATION, bins=BINS)
        rows = []
        for label in ("a", "b"):
            counts = color_counts(rng, "results", ITEMS, concentration=CONCENTRATION, bins=BINS)
            score = {"metric": "color-hist", "values": {}, "bins": BINS.to_dict(),
                     "inputs": {"pairing": "paired"},
                     "frames": {"ids": ids, "counts": counts, "ref_ids": ids, "ref_counts": ref,
                                "bins": np.array(bins)}}
            rows.append(_row(label, "color-hist", score))
        for c in paired_comparison(*rows, "color-hist", list(CHANNELS), n_resamples=RESAMPLES, seed=r,
                                   level=LEVEL):
            marks[c.key] += c.significant
    for ch in CHANNELS:
        _assert_rate(marks[ch], 1 - LEVEL, f"false-positive marks, Lab {ch}", one_sided=True)


def test_fcn_score_significance_marks_keep_their_false_positive_rate():
    rng = np.random.default_rng(13)
    ids = np.array([f"c_000000_{i:06d}" for i in range(ITEMS)])
    marks = dict.fromkeys(METRICS, 0)
    for r in range(REPS):
        rows = []
        for label in ("a", "b"):
            score = {"metric": "fcn-score", "values": {}, "confusion_mode": "reference",
                     "inputs": {"file_list_sha256": "same images"},
                     "frames": {"ids": ids, "confusion": confusion_frames(rng, ITEMS)}}
            rows.append(_row(label, "fcn-score", score))
        for c in paired_comparison(*rows, "fcn-score", list(METRICS), n_resamples=RESAMPLES, seed=r,
                                   level=LEVEL):
            marks[c.key] += c.significant
    for m in METRICS:
        _assert_rate(marks[m], 1 - LEVEL, f"false-positive marks, {m}", one_sided=True)


@pytest.mark.parametrize("statistic", ["rate", "difference"])
def test_study_intervals_cover_the_population_rate(statistic):
    """Participants with their own rates around a known mean (Beta), trials Bernoulli."""
    from p2peval.metrics.study_stats import bootstrap_difference, two_level_bootstrap

    rng = np.random.default_rng(17)
    hits = 0
    for r in range(REPS):
        groups = [[rng.random(20) < p for p in rng.beta(2, 6, 25)] for _ in range(2)]  # mean 0.25
        if statistic == "rate":
            b = two_level_bootstrap(groups[0], n_resamples=RESAMPLES, seed=r, level=LEVEL)
            hits += _covered(b.lo, b.hi, 0.25)
        else:
            d = bootstrap_difference(*groups, n_resamples=RESAMPLES, seed=r, level=LEVEL)
            hits += _covered(d["lo"], d["hi"], 0.0)
    _assert_rate(hits, LEVEL, f"coverage of the study {statistic}")
