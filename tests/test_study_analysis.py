"""Study analysis, export and simulation through the CLI, checked against independent numbers."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from scipy import stats

from p2peval.cli import main
from p2peval.report.scorefile import read_score
from studies.demo import write_demo_study
from studies.storage import Store


def _row(i, kind, labeled_real):
    return {"trial_index": i, "kind": kind, "layout": "sequential", "ask": "fake",
            "real_position": 0, "trial_seed": i, "answer": int(labeled_real),
            "correct": not labeled_real, "labeled_real": bool(labeled_real), "response_ms": 700.0,
            "display_ms_first": 1000.0, "display_ms_second": 1000.0, "real_image": "r.png",
            "fake_image": "f.png", "shown_at": None}


@pytest.fixture(scope="module")
def answers_db(tmp_path_factory):
    """Two algorithms; 2 practice, 10 main and 1 vigilance trial per participant; the outcome
    table ``truth`` holds every main-trial outcome of the participants who pass vigilance."""
    d = tmp_path_factory.mktemp("an")
    url = f"sqlite:///{d / 'a.db'}"
    store = Store(url)
    rng = np.random.default_rng(5)
    truth = {"A": [], "B": []}
    for algo, rate, n_part in (("A", 0.35, 14), ("B", 0.1, 12)):
        for k in range(n_part):
            s, _ = store.start_session("st", f"{algo}{k}", [algo], n_trials=13)
            fail_vigilance = k == 0  # the first participant of each algorithm is excluded
            outcomes = (rng.random(10) < rate).astype(int)
            trials = [("practice", 1), ("practice", 1)] + [("main", int(o)) for o in outcomes]
            trials.insert(7, ("vigilance", int(fail_vigilance)))
            for i, (kind, lr) in enumerate(trials):
                store.record_answer(s, _row(i, kind, lr))
            if not fail_vigilance:
                truth[algo].append(outcomes)
    store.close()
    return url, truth, d


def test_analyze_matches_independent_numbers(answers_db, capsys):
    url, truth, d = answers_db
    out = d / "score.json"
    assert main(["study", "analyze", url, "--out", str(out), "--n-resamples", "20000",
                 "--permutations", "20000"]) == 0
    text = capsys.readouterr().out
    assert "% labeled real" in text
    score = read_score(out)
    assert score["metric"] == "study" and score["higher_is_better"]["pct_labeled_real"] is True
    rows = {r["label"]: r for r in score["rows"]}
    for algo, groups in truth.items():
        r = rows[algo]
        pooled = 100 * np.mean(np.concatenate(groups))  # practice and vigilance left out
        assert r["values"]["pct_labeled_real"] == pytest.approx(pooled)
        p = np.array([g.mean() for g in groups])
        closed = 100 * np.sqrt((np.var(p) + np.mean(p * (1 - p)) / 10) / len(p))
        assert r["ci"]["pct_labeled_real_se"] == pytest.approx(closed, rel=0.04)
        lo, hi = r["ci"]["pct_labeled_real"]
        assert lo < pooled < hi
        assert r["counts"]["participants"] == len(groups)
        assert r["counts"]["excluded_participants_vigilance"] == 1
        assert r["counts"]["trials"] == 10 * len(groups)
        assert score["values"][f"pct_labeled_real/{algo}"] == r["values"]["pct_labeled_real"]
    (cmp,) = score["comparisons"]
    ra = [g.mean() for g in truth["A"]]
    rb = [g.mean() for g in truth["B"]]
    ref = stats.permutation_test(
        (ra, rb), lambda x, y, axis: np.abs(np.mean(x, axis=axis) - np.mean(y, axis=axis)),
        permutation_type="independent", vectorized=True, n_resamples=20000,
        alternative="greater", random_state=np.random.default_rng(1)).pvalue
    assert cmp["p_permutation"] == pytest.approx(ref, abs=0.01)
    assert cmp["difference"] == pytest.approx(rows["A"]["values"]["pct_labeled_real"]
                                              - rows["B"]["values"]["pct_labeled_real"])
    # the score file renders as a table, one row per algorithm
    assert main(["table", str(out)]) == 0
    table = capsys.readouterr().out
    for algo in ("A", "B"):
        r = rows[algo]
        assert f"| {algo} |" in table
        assert f"{r['values']['pct_labeled_real']:.1f}" in table
        assert f"{r['ci']['pct_labeled_real_se']:.1f}" in table


def test_more_vigilance_failures_allowed_keeps_everyone(answers_db, capsys):
    url, truth, d = answers_db
    out = d / "lenient.json"
    assert main(["study", "analyze", url, "--out", str(out), "--max-vigilance-failures", "1",
                 "--n-resamples", "200", "--permutations", "200"]) == 0
    rows = {r["label"]: r for r in read_score(out)["rows"]}
    assert rows["A"]["counts"]["participants"] == len(truth["A"]) + 1


def test_export_csv_round_trip(answers_db, capsys):
    url, truth, d = answers_db
    csv_path = d / "answers.csv"
    assert main(["study", "export", url, "--out", str(csv_path)]) == 0
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == (14 + 12) * 13
    assert {"participant", "trial_index", "kind", "real_position", "trial_seed", "answer", "correct",
            "response_ms", "display_ms_first", "answered_at"} <= set(rows[0])
    a, b = d / "from_db.json", d / "from_csv.json"
    for src, out in ((url, a), (str(csv_path), b)):
        assert main(["study", "analyze", src, "--out", str(out), "--n-resamples", "500",
                     "--permutations", "500"]) == 0
    ra, rb = read_score(a), read_score(b)
    assert ra["rows"] == rb["rows"] and ra["comparisons"] == rb["comparisons"]


def _err(capsys, argv) -> str:
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and err.startswith("p2peval: error:"), err
    return err


def test_analyze_bad_inputs(answers_db, tmp_path, capsys):
    url, _, _ = answers_db
    assert "no such CSV file" in _err(capsys, ["study", "analyze", str(tmp_path / "none.csv")])
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    assert "missing column(s)" in _err(capsys, ["study", "analyze", str(bad)])
    bad.write_text("study,algorithm,participant,trial_index,kind,labeled_real\ns,A,p,x,main,1\n")
    assert "line 2: trial_index 'x'" in _err(capsys, ["study", "analyze", str(bad)])
    assert "no answers for study 'zz'" in _err(capsys, ["study", "analyze", url, "--study", "zz"])
    assert "neither a database URL" in _err(capsys, ["study", "analyze", "nothing-here"])
    out = tmp_path / "kept.json"
    out.write_text("{}")
    _err(capsys, ["study", "analyze", str(bad), "--out", str(out)])
    assert out.read_text() == "{}"  # nothing already written is lost


def test_simulate_writes_balanced_sessions_and_power(tmp_path, capsys):
    study = write_demo_study(tmp_path / "s", n_images=8, size=16, practice_trials=2, main_trials=5,
                             vigilance=1, name="sim")
    db = f"sqlite:///{tmp_path / 'sim.db'}"
    assert main(["study", "simulate", str(study), "--participants", "10", "--rates",
                 "sharp=0.3,blurry=0.05", "--db", db, "--power", "4,40", "--power-sims", "60",
                 "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "wrote 80 synthetic answers of 10 participants" in out
    power = [float(line.split()[-1]) for line in out.splitlines()
             if line.strip() and line.split()[0] in ("4", "40")]
    assert len(power) == 2 and power[1] > power[0] and power[1] >= 0.8
    store = Store(db)
    assert store.session_counts("sim") == {"sharp": (5, 0), "blurry": (5, 0)}
    rows = store.answer_rows("sim")
    store.close()
    assert len(rows) == 80 and sum(r["kind"] == "vigilance" for r in rows) == 10
    # the stored side and answer agree with the stored correctness
    for r in rows:
        assert r["correct"] == (r["answer"] == 1 - r["real_position"])
        assert r["labeled_real"] == (not r["correct"])
    # rerunning adds nothing: the participants already have their sessions
    assert main(["study", "simulate", str(study), "--participants", "10", "--rates",
                 "sharp=0.3,blurry=0.05", "--db", db, "--power", "", "--seed", "3"]) == 0
    assert "wrote 0 synthetic answers" in capsys.readouterr().out


def test_simulate_bad_rates(tmp_path, capsys):
    study = write_demo_study(tmp_path / "s", n_images=4, size=16, practice_trials=1, main_trials=2)
    base = ["study", "simulate", str(study), "--participants", "2", "--power", ""]
    assert "unknown algorithm(s) nope" in _err(capsys, base + ["--rates", "nope=0.1,sharp=0.1,blurry=0.1"])
    assert "missing: blurry" in _err(capsys, base + ["--rates", "sharp=0.1"])
    assert "RATE in [0, 1]" in _err(capsys, base + ["--rates", "sharp=2,blurry=0.1"])
    ok = ["--rates", "sharp=0.1,blurry=0.1"]
    assert "argument --power-sims: must be an integer >= 10" in _err(capsys, base + ok + ["--power-sims", "0"])
    assert "argument --participants: must be an integer >= 1" in _err(capsys, base[:4] + ["0"] + base[5:] + ok)
    assert "study's own database" in _err(capsys, base + ["--rates", "sharp=0.1,blurry=0.1", "--db",
                                                          f"sqlite:///{study.with_suffix('.db').resolve()}"])
