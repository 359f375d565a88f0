"""Synthetic participants: fill a database with plausible answers, and estimate statistical power.

Each synthetic participant has their own "% labeled real" rate, drawn from a Beta distribution
with the algorithm's mean rate and a between-participant standard deviation; each of their trials
is then a Bernoulli draw. Power for separating two rates is the share of simulated studies in
which the permutation test on participant-level rates gives p < alpha.
"""

from __future__ import annotations

import numpy as np

from p2peval.core.errors import ConfigError


def parse_rates(text: str, algorithms: list[str]) -> dict[str, float]:
    """``"A=0.2,B=0.1"`` -> {"A": 0.2, "B": 0.1}; every name must be one of ``algorithms``."""
    rates: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        name = name.strip()
        try:
            rate = float(value)
        except ValueError:
            rate = -1.0
        if not sep or not name or not 0 <= rate <= 1:
            raise ConfigError(f"--rates: expected NAME=RATE with RATE in [0, 1], got {part!r}")
        rates[name] = rate
    unknown = [n for n in rates if n not in algorithms]
    if unknown:
        raise ConfigError(f"--rates: unknown algorithm(s) {', '.join(unknown)}; the study has "
                          f"{', '.join(algorithms)}")
    missing = [a for a in algorithms if a not in rates]
    if missing:
        raise ConfigError(f"--rates: give a rate for every algorithm of the study (missing: "
                          f"{', '.join(missing)})")
    return rates


def beta_rates(mean: float, sd: float, size: int, rng: np.random.Generator) -> np.ndarray:
    """(size,) participant rates with the given mean and (at most the feasible) standard deviation."""
    if sd <= 0 or mean in (0.0, 1.0):
        return np.full(size, mean)
    var = min(sd**2, 0.99 * mean * (1 - mean))
    common = mean * (1 - mean) / var - 1
    return rng.beta(mean * common, (1 - mean) * common, size=size)


def simulate_study(config, store, rates: dict[str, float], participants: int, *,
                   participant_sd: float = 0.1, vigilance_fail_rate: float = 0.0,
                   seed: int = 0, show_progress: bool = True) -> int:
    """Write ``participants`` complete synthetic sessions (balanced assignment); returns answers."""
    from p2peval.core.progress import progress
    from studies.protocol import answer_row
    from studies.protocol import load_material, plan_session

    material = load_material(config)
    rng = np.random.default_rng(seed)
    n = 0
    for k in progress(range(participants), total=participants, desc="simulate", unit="participant"):
        pid = f"sim-{seed}-{k:05d}"
        session, _ = store.start_session(config.name, pid, list(config.algorithms),
                                         config.n_trials, seed=int(rng.integers(2**31)),
                                         timeout_s=60.0 * config.session_timeout_minutes)
        if session.finished:
            continue
        p = float(beta_rates(rates[session.algorithm], participant_sd, 1, rng)[0])
        for trial in plan_session(config, material, session.algorithm, session.seed):
            fooled = rng.random() < (vigilance_fail_rate if trial.kind == "vigilance" else p)
            right = trial.correct_choice(config.ask)
            value = {"choice": 1 - right if fooled else right,
                     "display_ms": [float(config.display_ms)] * 2,
                     "response_ms": float(rng.lognormal(np.log(900), 0.4))}
            n += store.record_answer(session, answer_row(config, trial, value, None))
    return n


def power_table(rate_a: float, rate_b: float, ns: list[int], trials: int, *,
                participant_sd: float = 0.1, sims: int = 300, permutations: int = 1000,
                alpha: float = 0.05, seed: int = 0, show_progress: bool = True) -> list[dict]:
    """Share of simulated studies (``n`` participants per algorithm) with permutation p < alpha."""
    from p2peval.metrics.study_stats import permutation_test
    from p2peval.core.progress import progress

    rng = np.random.default_rng(seed)
    out = []
    for n in ns:
        hits = 0
        for s in progress(range(sims), total=sims, desc=f"power n={n}", unit="study"):
            ra = rng.binomial(trials, beta_rates(rate_a, participant_sd, n, rng)) / trials
            rb = rng.binomial(trials, beta_rates(rate_b, participant_sd, n, rng)) / trials
            hits += permutation_test(ra, rb, n_resamples=permutations,
                                     seed=int(rng.integers(2**31))) < alpha
        out.append({"participants_per_algorithm": n, "power": hits / sims, "simulations": sims})
    return out
