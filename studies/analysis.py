"""Analysis of study answers: "% labeled real" per algorithm with two-level bootstrap errors,
and pairwise comparisons (bootstrap interval of the difference, permutation-test p-value).

Only main trials count: practice and vigilance trials are left out, and so is every participant
who failed more vigilance trials than allowed. The result is a score file (docs/architecture.md contract 2)
with one entry of ``rows`` per algorithm, so ``p2peval table`` renders it.
"""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

from p2peval.core.errors import InputError
from p2peval.metrics.bootstrap import INTERVAL, INTERVAL_RULE
from p2peval.metrics.study_stats import (bootstrap_difference, participant_rates, permutation_test,
                                         two_level_bootstrap)

METRIC = "pct_labeled_real"
REQUIRED = ("study", "algorithm", "participant", "trial_index", "kind", "labeled_real")
_TRUE = {"1", "true", "t", "yes", "True"}
_FALSE = {"0", "false", "f", "no", "False"}


def _bool(value, path, line: int) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return bool(value)
    s = str(value).strip()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise InputError(f"line {line}: expected a boolean, got {value!r}", path)


def read_answers_csv(path: str | Path) -> list[dict]:
    """Rows of an exported CSV (``p2peval study export``); checks the needed columns."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such CSV file", path)
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            fields = reader.fieldnames or []
            missing = [c for c in REQUIRED if c not in fields]
            if missing:
                raise InputError(f"not a study answers CSV: missing column(s) {', '.join(missing)}",
                                 path)
            rows = []
            for line, r in enumerate(reader, start=2):
                try:
                    r["trial_index"] = int(r["trial_index"])
                except (TypeError, ValueError):
                    raise InputError(f"line {line}: trial_index {r['trial_index']!r} is not an "
                                     "integer", path) from None
                r["labeled_real"] = _bool(r["labeled_real"], path, line)
                if "correct" in r and r["correct"] not in (None, ""):
                    r["correct"] = _bool(r["correct"], path, line)
                rows.append(r)
    except UnicodeDecodeError:
        raise InputError("not a text CSV file", path) from None
    return rows


def load_answers(source: str) -> list[dict]:
    """Answers from a database URL (``sqlite:///x.db``, ``postgresql://...``) or an exported CSV."""
    if "://" in source:
        from studies.storage import Store
        store = Store(source)
        try:
            return store.answer_rows()
        finally:
            store.close()
    if source.lower().endswith(".csv") or Path(source).is_file():
        return read_answers_csv(source)
    raise InputError("neither a database URL (sqlite:///FILE, postgresql://...) nor a CSV file",
                     source)


def select_study(rows: list[dict], study: str | None, source: str) -> tuple[str, list[dict]]:
    studies = sorted({r["study"] for r in rows})
    if not studies:
        raise InputError("no answers", source)
    if study is None:
        if len(studies) > 1:
            raise InputError(f"answers of several studies ({', '.join(studies)}); choose one with "
                             "--study", source)
        study = studies[0]
    elif study not in studies:
        raise InputError(f"no answers for study {study!r}; studies present: {', '.join(studies)}",
                         source)
    return study, [r for r in rows if r["study"] == study]


def vigilance_failures(rows: list[dict]) -> dict[tuple[str, str], int]:
    """(algorithm, participant) -> number of failed vigilance trials."""
    out: dict[tuple[str, str], int] = {}
    for r in rows:
        if r["kind"] == "vigilance":
            key = (r["algorithm"], r["participant"])
            # In a vigilance trial the fake is obvious: labeling it real is a failure.
            out[key] = out.get(key, 0) + int(r["labeled_real"])
    return out


def participant_groups(rows: list[dict], max_vigilance_failures: int = 0
                       ) -> tuple[dict[str, dict[str, list[int]]], dict[str, int]]:
    """algorithm -> participant -> main-trial outcomes (1 = labeled real); and exclusions."""
    failures = vigilance_failures(rows)
    excluded: dict[str, int] = {}
    groups: dict[str, dict[str, list[int]]] = {}
    for (algo, pid), n in failures.items():
        if n > max_vigilance_failures:
            excluded[algo] = excluded.get(algo, 0) + 1
    for r in sorted(rows, key=lambda r: (r["algorithm"], r["participant"], r["trial_index"])):
        key = (r["algorithm"], r["participant"])
        groups.setdefault(r["algorithm"], {})
        if r["kind"] != "main" or failures.get(key, 0) > max_vigilance_failures:
            continue
        groups[r["algorithm"]].setdefault(r["participant"], []).append(int(r["labeled_real"]))
    return groups, excluded


def analyze(rows: list[dict], *, source: str, study: str | None = None,
            max_vigilance_failures: int = 0, n_resamples: int = 10000, seed: int = 0,
            level: float = 0.95, permutations: int = 10000) -> dict:
    """Score object of a study (values in percent)."""
    from p2peval.report.scorefile import file_list_hash, make_score

    study, rows = select_study(rows, study, source)
    groups, excluded = participant_groups(rows, max_vigilance_failures)
    out_rows = []
    values, ci, counts = {}, {}, {}
    for algo in sorted(groups):
        parts = groups[algo]
        trials = [parts[p] for p in sorted(parts)]
        c = {"participants": len(trials), "trials": sum(map(len, trials)),
             "labeled_real": int(sum(map(sum, trials))),
             "excluded_participants_vigilance": excluded.get(algo, 0),
             "practice_trials_left_out": sum(1 for r in rows if r["algorithm"] == algo
                                             and r["kind"] == "practice"),
             "vigilance_trials_left_out": sum(1 for r in rows if r["algorithm"] == algo
                                              and r["kind"] == "vigilance")}
        if trials:
            b = two_level_bootstrap(trials, n_resamples=n_resamples, seed=seed, level=level)
            est, se, lo, hi = 100 * b.estimate, 100 * b.se, 100 * b.lo, 100 * b.hi
        else:
            est = se = lo = hi = None
        row_ci = {METRIC: [lo, hi], METRIC + "_se": se, "method": "two-level symmetric bootstrap "
                  "(participants, then trials within each)", "interval": INTERVAL,
                  "interval_rule": INTERVAL_RULE, "n_resamples": n_resamples, "seed": seed, "level": level}
        out_rows.append({"label": algo, "values": {METRIC: est}, "ci": row_ci, "counts": c,
                         "higher_is_better": {METRIC: True}})
        values[f"{METRIC}/{algo}"] = est
        ci[f"{METRIC}/{algo}"] = [lo, hi]
        ci[f"{METRIC}/{algo}_se"] = se
        counts[algo] = c
    comparisons = []
    algos = [a for a in sorted(groups) if groups[a]]
    for a, b in itertools.combinations(algos, 2):
        ga = [groups[a][p] for p in sorted(groups[a])]
        gb = [groups[b][p] for p in sorted(groups[b])]
        d = bootstrap_difference(ga, gb, n_resamples=n_resamples, seed=seed, level=level)
        p = permutation_test(participant_rates(ga), participant_rates(gb),
                             n_resamples=permutations, seed=seed)
        comparisons.append({"a": a, "b": b, "difference": 100 * d["difference"],
                            "se": 100 * d["se"], "ci": [100 * d["lo"], 100 * d["hi"]],
                            "share_a_greater": d["share_a_greater"], "p_permutation": p,
                            "permutations": permutations,
                            "test": "two-sided permutation test of mean participant-level rates"})
    ci.update({"method": "two-level symmetric bootstrap (participants, then trials within each)",
               "interval": INTERVAL, "interval_rule": INTERVAL_RULE,
               "n_resamples": n_resamples, "seed": seed, "level": level})
    ids = sorted({f"{r['algorithm']}/{r['participant']}" for r in rows})
    return make_score(
        metric="study", values=values,
        higher_is_better={METRIC: True, **{k: True for k in values}},
        counts={"algorithms": counts, "participants": len(ids), "answers": len(rows)},
        inputs={"source": source, "study": study, "n_files": len(ids),
                "file_list_sha256": file_list_hash(ids)},
        ci=ci, label=study, rows=out_rows, comparisons=comparisons,
        protocol={"name": "real-vs-fake", "statistic": "% of main trials in which the fake image "
                  "was labeled real", "max_vigilance_failures": max_vigilance_failures,
                  "excluded": "practice trials, vigilance trials, participants failing vigilance"})


def print_report(score: dict) -> None:
    print(f"study {score['label']}: % labeled real (mean +/- bootstrap SE, "
          f"{100 * score['ci']['level']:g}% CI)")
    for r in score["rows"]:
        v, c = r["values"][METRIC], r["counts"]
        if v is None:
            print(f"  {r['label']:<20} no participants")
            continue
        lo, hi = r["ci"][METRIC]
        print(f"  {r['label']:<20} {v:5.1f} +/- {r['ci'][METRIC + '_se']:.1f}  [{lo:.1f}, {hi:.1f}]  "
              f"({c['participants']} participants, {c['trials']} trials, "
              f"{c['excluded_participants_vigilance']} excluded)")
    for cmp in score["comparisons"]:
        lo, hi = cmp["ci"]
        print(f"  {cmp['a']} - {cmp['b']}: {cmp['difference']:+.1f} [{lo:+.1f}, {hi:+.1f}], "
              f"permutation p = {cmp['p_permutation']:.4f}")
