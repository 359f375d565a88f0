"""Study statistics against independent computations (closed forms, plain loops, scipy)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from p2peval.metrics.study_stats import (bootstrap_difference, participant_rates, permutation_test,
                                         two_level_bootstrap)


def _groups(rng, n_participants, n_trials, rates):
    return [rng.random(n_trials) < rates[i % len(rates)] for i in range(n_participants)]


def _analytic_se(groups) -> float:
    """Exact SD of the two-level bootstrap mean when every participant has n trials:
    Var = (1/P) [ mean_i (p_i - pbar)^2 + mean_i p_i (1 - p_i) / n ]."""
    p = np.array([np.mean(g) for g in groups])
    n = len(groups[0])
    return float(np.sqrt((np.mean((p - p.mean()) ** 2) + np.mean(p * (1 - p)) / n) / len(p)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_two_level_se_matches_closed_form(seed):
    rng = np.random.default_rng(100 + seed)
    groups = _groups(rng, 30, 40, rates=[0.05, 0.2, 0.35, 0.5])
    b = two_level_bootstrap(groups, n_resamples=20000, seed=seed)
    assert b.estimate == pytest.approx(np.mean(np.concatenate(groups)))
    # the SD estimate from 20000 replicates has a relative error of about 1/sqrt(2*20000) = 0.5%
    assert b.se == pytest.approx(_analytic_se(groups), rel=0.03)
    assert b.lo < b.estimate < b.hi


def _naive_two_level(groups, n_resamples, rng):
    """Literal two-level bootstrap with loops: participants, then trials within each."""
    reps = []
    for _ in range(n_resamples):
        chosen = rng.integers(0, len(groups), len(groups))
        trials = [rng.choice(groups[i], size=len(groups[i]), replace=True) for i in chosen]
        reps.append(np.concatenate(trials).mean())
    return np.array(reps)


def test_two_level_matches_literal_resampling_with_unequal_trials():
    rng = np.random.default_rng(7)
    groups = [rng.random(n) < r for n, r in zip([10, 25, 40, 40, 15, 30, 20, 35],
                                                [0.1, 0.4, 0.25, 0.6, 0.0, 0.3, 0.5, 0.2])]
    b = two_level_bootstrap(groups, n_resamples=20000, seed=3)
    naive = _naive_two_level(groups, 6000, np.random.default_rng(11))
    assert b.se == pytest.approx(naive.std(ddof=1), rel=0.05)
    lo, hi = np.quantile(naive, [0.025, 0.975])
    assert b.lo == pytest.approx(lo, abs=0.02) and b.hi == pytest.approx(hi, abs=0.02)


def test_bootstrap_is_reproducible_and_degenerate_cases():
    groups = [np.array([0, 1, 1, 0]), np.array([1, 1, 0, 0])]
    a = two_level_bootstrap(groups, n_resamples=500, seed=5)
    b = two_level_bootstrap(groups, n_resamples=500, seed=5)
    assert np.array_equal(a.samples, b.samples)
    zero = two_level_bootstrap([np.zeros(10), np.zeros(10)], n_resamples=200)
    assert zero.estimate == zero.se == zero.lo == zero.hi == 0.0
    with pytest.raises(ValueError):
        two_level_bootstrap([], n_resamples=10)


def test_difference_se_adds_variances():
    rng = np.random.default_rng(3)
    ga = _groups(rng, 25, 40, [0.3, 0.1])
    gb = _groups(rng, 30, 40, [0.05, 0.15])
    d = bootstrap_difference(ga, gb, n_resamples=20000, seed=1)
    expect = np.sqrt(_analytic_se(ga) ** 2 + _analytic_se(gb) ** 2)
    assert d["se"] == pytest.approx(expect, rel=0.03)
    assert d["difference"] == pytest.approx(np.mean(np.concatenate(ga)) - np.mean(np.concatenate(gb)))
    assert d["lo"] < d["difference"] < d["hi"]
    assert 0.5 < d["share_a_greater"] <= 1.0


def _scipy_p(a, b, n_resamples):
    res = stats.permutation_test(
        (a, b), lambda x, y, axis: np.abs(np.mean(x, axis=axis) - np.mean(y, axis=axis)),
        permutation_type="independent", vectorized=True, n_resamples=n_resamples,
        alternative="greater", random_state=np.random.default_rng(99))
    return res.pvalue


def test_permutation_exact_equals_scipy_exact():
    a = np.array([0.10, 0.25, 0.05, 0.30, 0.20])
    b = np.array([0.35, 0.40, 0.15, 0.50])
    # C(9, 5) = 126 splits: both enumerate them all
    assert permutation_test(a, b, n_resamples=1000) == pytest.approx(_scipy_p(a, b, np.inf), abs=1e-12)


@pytest.mark.parametrize("shift", [0.0, 0.05, 0.12])
def test_permutation_monte_carlo_close_to_scipy(shift):
    rng = np.random.default_rng(int(shift * 100))
    a = rng.binomial(40, 0.2, 30) / 40
    b = rng.binomial(40, 0.2 + shift, 28) / 40
    ours = permutation_test(a, b, n_resamples=20000, seed=4)
    ref = _scipy_p(a, b, 20000)
    # two independent Monte Carlo estimates: SE of each <= sqrt(0.25 / 20000) = 0.0035
    assert ours == pytest.approx(ref, abs=0.015)


def test_permutation_test_has_its_nominal_size():
    """Under the null (same rates) p < 0.05 in 5% of studies, and the check can tell 5% from 8%.

    Participant rates are continuous here, so the only discreteness left is the Monte Carlo one:
    with 400 resamples p < 0.05 means at most 19 of 400 permutations as extreme as the observed
    split, which happens with probability exactly 20/401 under the null. The acceptance band is
    the central 99.99% of Binomial(n, 20/401); the test also checks that a true size of 8% (or
    3%) would fall outside it with probability above 99.99%.
    """
    n_studies, n_resamples = 6000, 400
    size = 20 / (n_resamples + 1)
    lo, hi = stats.binom.ppf([0.00005, 0.99995], n_studies, size)
    assert stats.binom.cdf(hi, n_studies, 0.08) < 1e-4 and stats.binom.sf(lo - 1, n_studies, 0.03) < 1e-4
    rng = np.random.default_rng(12)
    a = rng.beta(4, 16, (n_studies, 15))  # all studies drawn at once; 15 + 15 participants each
    b = rng.beta(4, 16, (n_studies, 15))
    hits = sum(permutation_test(a[k], b[k], n_resamples=n_resamples, seed=k) < 0.05 for k in range(n_studies))
    assert lo <= hits <= hi, (hits / n_studies, lo / n_studies, hi / n_studies)


def test_participant_rates():
    assert participant_rates([np.array([1, 0, 0, 0]), np.array([1, 1])]).tolist() == [0.25, 1.0]
