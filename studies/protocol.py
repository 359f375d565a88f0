"""The trial sequence of one session, reproducible from the session's stored seed.

A session is: ``practice_trials`` practice trials (with feedback), then ``main_trials`` main
trials with ``vigilance.trials`` catch trials mixed in at random places. Each trial pits one real
image against one fake image of the session's algorithm; which side (or which position in time)
holds the real image is drawn per trial from a per-trial seed that is stored with the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from p2peval.core.errors import InputError
from studies.config import StudyConfig, load_study
from studies.stimuli import Pool, build_pool, input_key, list_images

PRACTICE, MAIN, VIGILANCE = "practice", "main", "vigilance"


@dataclass(frozen=True)
class Trial:
    index: int           # 0-based over the whole session
    kind: str            # practice | main | vigilance
    real: Path
    fake: Path
    real_position: int   # 0: first (sequential) / left (side-by-side); 1: second / right
    trial_seed: int      # the draw of real_position: default_rng(trial_seed).integers(2)

    def correct_choice(self, ask: str) -> int:
        """Position the participant should choose when asked for the ``ask`` ('fake'|'real') image."""
        return self.real_position if ask == "real" else 1 - self.real_position


@dataclass(frozen=True)
class StudyMaterial:
    """Checked image pools of a study: one per algorithm, plus the vigilance fakes."""

    pools: dict[str, Pool]
    vigilance_fakes: tuple[Path, ...]


def load_material(config: StudyConfig) -> StudyMaterial:
    """Pair every algorithm's images with the real ones and check there are enough."""
    pools = {}
    need = config.practice_trials + config.main_trials
    for algo, folder in config.algorithms.items():
        pool = build_pool(folder, config.real, config.pairing)
        if len(pool.fakes) < need:
            raise InputError(f"algorithm {algo!r} has {len(pool.fakes)} images; a session needs "
                             f"{need} different ones (practice_trials + main_trials)", folder)
        pools[algo] = pool
    vfakes: tuple[Path, ...] = ()
    if config.vigilance.trials:
        vfakes = tuple(list_images(config.vigilance.fakes))
        if not vfakes:
            raise InputError("no images for vigilance trials", config.vigilance.fakes)
    return StudyMaterial(pools, vfakes)


def load_checked(path: str | Path) -> tuple[StudyConfig, StudyMaterial]:
    """A study file's settings and image pools, every check passed: what ``study serve --check``
    verifies of the file (it also opens the database) and what ``study init`` verifies of the
    file it writes."""
    config = load_study(path)
    return config, load_material(config)


def plan_session(config: StudyConfig, material: StudyMaterial, algorithm: str,
                 session_seed: int) -> list[Trial]:
    """The full trial list of a session; the same seed always gives the same list."""
    pool = material.pools[algorithm]
    rng = np.random.default_rng([config.seed, session_seed])
    n_pairs = config.practice_trials + config.main_trials
    order = rng.permutation(len(pool.fakes))[:n_pairs]
    real_order = list(rng.permutation(len(pool.reals)))
    pairs: list[tuple[Path, Path]] = []
    for j in order:
        fake = pool.fakes[j]
        if pool.match is not None:
            real = pool.reals[pool.match[j]]
        else:
            # different-input: next unused real image of another input (cycling if needed)
            key = input_key(fake)
            real = None
            while real is None:
                for t, r in enumerate(real_order):
                    if input_key(pool.reals[r]) != key:
                        real = pool.reals[real_order.pop(t)]
                        break
                if real is None or not real_order:
                    real_order = list(rng.permutation(len(pool.reals)))
        pairs.append((real, fake))
    kinds = [PRACTICE] * config.practice_trials
    main_block = np.array([MAIN] * config.main_trials + [VIGILANCE] * config.vigilance.trials)
    kinds += list(main_block[rng.permutation(len(main_block))])
    trials = []
    next_pair = 0
    for i, kind in enumerate(kinds):
        if kind == VIGILANCE:
            fake = material.vigilance_fakes[int(rng.integers(len(material.vigilance_fakes)))]
            real = pool.reals[int(rng.integers(len(pool.reals)))]
        else:
            real, fake = pairs[next_pair]
            next_pair += 1
        trial_seed = int(rng.integers(2**31))
        real_position = int(np.random.default_rng(trial_seed).integers(2))
        trials.append(Trial(i, str(kind), real, fake, real_position, trial_seed))
    return trials


def answer_row(config: StudyConfig, trial: Trial, value: dict, shown_at) -> dict:
    """The stored row of one answer (contract 4) from the answer the browser sent:
    ``{"choice": 0|1, "display_ms": [first, second], "response_ms": ms}``."""
    choice = int(value["choice"])
    if choice not in (0, 1):
        raise ValueError("choice must be 0 or 1")
    shown = value.get("display_ms") or [None, None]
    correct = choice == trial.correct_choice(config.ask)
    return {"trial_index": trial.index, "kind": trial.kind, "layout": config.layout,
            "ask": config.ask, "real_position": trial.real_position, "trial_seed": trial.trial_seed,
            "answer": choice, "correct": correct, "labeled_real": not correct,
            "response_ms": _num(value.get("response_ms")),
            "display_ms_first": _num(shown[0]), "display_ms_second": _num(shown[1]),
            "real_image": trial.real.name, "fake_image": trial.fake.name, "shown_at": shown_at}


def _num(x) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None
