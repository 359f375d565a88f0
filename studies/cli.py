"""``p2peval study init|serve|analyze|export|simulate``: one module for the five study commands."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from p2peval.commands import (NumberType, confidence_level, nonneg_float, nonneg_int, port_number,
                              positive_int, probability)

from p2peval.core.errors import ConfigError

AT_LEAST_100 = NumberType(int, 100)  # resamples and permutations: fewer make the p-values meaningless

HELP = "real-vs-fake perceptual studies: write a study file, serve the app, analyse, export, simulate"
EXAMPLES = """\
  p2peval study init --real results/real --algorithm L1=results/l1 --algorithm cGAN=results/cgan --out study.toml
  p2peval study serve study.toml --port 8501
  p2peval study analyze sqlite:///study.db --out results/study_score.json
  p2peval study export sqlite:///study.db --out answers.csv
  p2peval study simulate study.toml --participants 40 --rates L1=0.05,cGAN=0.2 --power 10,20,50"""


def add_arguments(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> None:
    cmd = path[-1]
    if cmd == "init":
        parser.description = ("Write a complete, checked study file from results folders: the pairing "
                              "is read from the file names, the images are counted against the trial "
                              "counts, and the file is checked as 'study serve --check' checks it.")
        parser.add_argument("--real", required=True, help="folder of real images")
        parser.add_argument("--algorithm", action="append", default=[], metavar="NAME=DIR",
                            help="an algorithm and its results folder (repeat for each algorithm)")
        parser.add_argument("--out", required=True, help="study TOML file to write")
        parser.add_argument("--name", default=None,
                            help="study name (default: the file's stem, or its folder's name for study.toml)")
        parser.add_argument("--pairing", default="auto",
                            help="auto (default: from the file names), same-input or different-input")
        parser.add_argument("--practice-trials", type=nonneg_int, default=10)
        parser.add_argument("--main-trials", type=positive_int, default=40)
        parser.add_argument("--layout", default="sequential", help="sequential (default) or side-by-side")
        parser.add_argument("--ask", default="fake", help="participants point at the fake (default) or real image")
        parser.add_argument("--seed", type=nonneg_int, default=0)
        parser.add_argument("--force", action="store_true", help="replace an existing --out file")
    elif cmd == "serve":
        parser.description = "Run the study web app (Streamlit) for participants and the admin."
        parser.add_argument("study", help="study TOML file")
        parser.add_argument("--port", type=port_number, default=8501)
        parser.add_argument("--address", default="127.0.0.1",
                            help="address to listen on (0.0.0.0 to serve other machines)")
        parser.add_argument("--db", default=None,
                            help="database URL (default: sqlite file beside the study file, or "
                                 "'database' in it); postgresql://... for several replicas")
        parser.add_argument("--check", action="store_true",
                            help="only check the study file, its images and the database, then exit")
    elif cmd == "analyze":
        parser.description = ("'% labeled real' per algorithm with two-level bootstrap errors and "
                              "pairwise tests; writes a score file.")
        parser.add_argument("source", help="database URL or CSV from 'p2peval study export'")
        parser.add_argument("--out", default=None, help="score JSON to write")
        parser.add_argument("--study", default=None, help="study name (if the source holds several)")
        parser.add_argument("--max-vigilance-failures", type=nonneg_int, default=0,
                            help="exclude participants failing more vigilance trials (default 0)")
        parser.add_argument("--n-resamples", type=AT_LEAST_100, default=10000)
        parser.add_argument("--permutations", type=AT_LEAST_100, default=10000)
        parser.add_argument("--seed", type=nonneg_int, default=0)
        parser.add_argument("--level", type=confidence_level, default=0.95)
    elif cmd == "export":
        parser.description = "Write every stored answer as CSV (one row per answered trial)."
        parser.add_argument("source", help="database URL")
        parser.add_argument("--out", default=None, help="CSV file (default: standard output)")
        parser.add_argument("--study", default=None, help="only this study")
    elif cmd == "simulate":
        parser.description = ("Write synthetic answers into a database (for testing and planning) "
                              "and estimate the power to separate two rates.")
        parser.add_argument("study", help="study TOML file")
        parser.add_argument("--participants", type=positive_int, required=True,
                            help="synthetic participants in all (assigned as in the app)")
        parser.add_argument("--rates", required=True,
                            help="'%% labeled real' per algorithm as fractions: NAME=RATE,...")
        parser.add_argument("--db", default=None,
                            help="database URL (default: sqlite:///<study>-simulated.db beside "
                                 "the study file; never the study's own database)")
        parser.add_argument("--participant-sd", type=nonneg_float, default=0.1,
                            help="between-participant standard deviation of the rate")
        parser.add_argument("--vigilance-fail-rate", type=probability, default=0.0)
        parser.add_argument("--power", default="10,20,30,50,75,100",
                            help="participants per algorithm to estimate power for ('' for none)")
        parser.add_argument("--power-sims", type=NumberType(int, 10), default=300)
        parser.add_argument("--seed", type=nonneg_int, default=0)


def run(args: argparse.Namespace) -> int:
    return {"init": _init, "serve": _serve, "analyze": _analyze, "export": _export,
            "simulate": _simulate}[args.command_path[-1]](args)


def _init(args) -> int:
    from studies.init import parse_algorithms, write_study

    res = write_study(args.out, real=args.real, algorithms=parse_algorithms(args.algorithm),
                      name=args.name, pairing=args.pairing, practice_trials=args.practice_trials,
                      main_trials=args.main_trials, layout=args.layout, ask=args.ask, seed=args.seed,
                      force=args.force)
    how = "from the file names" if res.detected else "as given"
    counts = ", ".join(f"{a} {n}" for a, n in res.images.items())
    print(f"wrote {res.path}: study {res.name}, {res.pairing} ({how}), {res.reals} real images, "
          f"generated images per algorithm: {counts}; {res.trials[0]}+{res.trials[1]} trials a session")
    print(f"check:   p2peval study serve {res.path} --check")
    print(f"serve:   p2peval study serve {res.path}")
    return 0


def _serve(args) -> int:
    from studies.protocol import load_checked
    from studies.storage import Store

    config, material = load_checked(args.study)
    url = args.db or config.database_url()
    Store(url).close()
    n = {a: len(p.fakes) for a, p in material.pools.items()}
    print(f"study {config.name}: {len(config.algorithms)} algorithm(s) {n}, "
          f"{config.practice_trials}+{config.main_trials} trials, database {url}")
    if args.check:
        return 0
    if not 1 <= args.port <= 65535:
        raise ConfigError(f"--port must be in 1..65535, got {args.port}")
    env = dict(os.environ, P2PEVAL_STUDY=str(config.path), P2PEVAL_STUDY_DB=url)
    app = Path(__file__).with_name("app.py")
    cmd = [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true",
           "--server.port", str(args.port), "--server.address", args.address,
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
           "--server.runOnSave", "false", "--client.toolbarMode", "minimal",
           "--runner.postScriptGC", "false",
           "--client.showErrorDetails", "false"]
    print(f"participants: http://{args.address}:{args.port}/?pid=ID   "
          f"admin: http://{args.address}:{args.port}/?admin")
    proc = subprocess.Popen(cmd, env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait(timeout=10)
        raise


def _analyze(args) -> int:
    from p2peval.report.scorefile import write_score
    from studies.analysis import analyze, load_answers, print_report

    if not 0 < args.level < 1:
        raise ConfigError(f"--level must be in (0, 1), got {args.level}")
    rows = load_answers(args.source)
    score = analyze(rows, source=args.source, study=args.study,
                    max_vigilance_failures=args.max_vigilance_failures,
                    n_resamples=args.n_resamples, seed=args.seed, level=args.level,
                    permutations=args.permutations)
    print_report(score)
    if args.out:
        write_score(args.out, score)
        print(f"wrote {args.out}")
    return 0


def _export(args) -> int:
    from studies.export import answers_csv, write_answers_csv
    from studies.storage import Store

    if "://" not in args.source:
        raise ConfigError(f"{args.source}: expected a database URL (sqlite:///FILE, postgresql://...)")
    store = Store(args.source)
    rows = store.answer_rows(args.study)
    store.close()
    if args.out:
        write_answers_csv(rows, args.out)
        print(f"wrote {len(rows)} answers to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(answers_csv(rows))
    return 0


def _simulate(args) -> int:
    from studies.config import load_study
    from studies.simulate import parse_rates, power_table, simulate_study
    from studies.storage import Store

    config = load_study(args.study)
    rates = parse_rates(args.rates, list(config.algorithms))
    if args.participants < 1:
        raise ConfigError(f"--participants must be at least 1, got {args.participants}")
    if not 0 <= args.vigilance_fail_rate <= 1:
        raise ConfigError(f"--vigilance-fail-rate must be in [0, 1], got {args.vigilance_fail_rate}")
    if not 0 <= args.participant_sd <= 0.5:
        raise ConfigError(f"--participant-sd must be in [0, 0.5], got {args.participant_sd}")
    try:
        ns = [int(x) for x in args.power.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"--power: expected comma-separated integers, got {args.power!r}") from None
    if any(n < 2 for n in ns):
        raise ConfigError("--power: each number of participants must be at least 2")
    url = args.db or f"sqlite:///{config.path.with_name(config.path.stem + '-simulated.db')}"
    if url == config.database_url():
        raise ConfigError(f"--db {url} is the study's own database; synthetic answers go elsewhere")
    store = Store(url)
    n = simulate_study(config, store, rates, args.participants, participant_sd=args.participant_sd,
                       vigilance_fail_rate=args.vigilance_fail_rate, seed=args.seed)
    store.close()
    print(f"wrote {n} synthetic answers of {args.participants} participants to {url}")
    names = list(rates)
    if ns and len(names) >= 2:
        a, b = names[0], names[1]
        print(f"power to separate {a}={rates[a]:g} from {b}={rates[b]:g} "
              f"({config.main_trials} main trials, participant sd {args.participant_sd:g}, "
              f"permutation test p < 0.05, {args.power_sims} simulated studies each):")
        print("  participants/algorithm  power")
        for r in power_table(rates[a], rates[b], ns, config.main_trials,
                             participant_sd=args.participant_sd, sims=args.power_sims,
                             seed=args.seed):
            print(f"  {r['participants_per_algorithm']:>22}  {r['power']:.2f}")
    return 0
