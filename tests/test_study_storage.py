"""Study storage against SQLite and a real PostgreSQL server (started here, thrown away after)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import text

from studies.storage import Store, now, sessions

@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 'study.db'}")
    else:
        s = Store(request.getfixturevalue("postgres_url"))
        with s.engine.begin() as c:  # a clean slate per test
            c.execute(text("DELETE FROM study_answers"))
            c.execute(text("DELETE FROM study_sessions"))
            c.execute(text("DELETE FROM study_assignment"))
    yield s
    s.close()


def _row(i: int, kind: str = "main", labeled_real: bool = False) -> dict:
    return {"trial_index": i, "kind": kind, "layout": "sequential", "ask": "fake",
            "real_position": i % 2, "trial_seed": 1000 + i, "answer": 0, "correct": not labeled_real,
            "labeled_real": labeled_real, "response_ms": 500.0, "display_ms_first": 1000.0,
            "display_ms_second": 999.9, "real_image": f"r{i}.png", "fake_image": f"f{i}.png",
            "shown_at": None}


def test_one_session_per_participant_across_algorithms(store):
    s1, created1 = store.start_session("st", "P1", ["A", "B"], n_trials=3)
    s2, created2 = store.start_session("st", "P1", ["B", "A"], n_trials=3)
    assert created1 and not created2
    assert s2.id == s1.id and s2.algorithm == s1.algorithm
    # the database itself refuses a second row, whatever the code above does
    from sqlalchemy.exc import IntegrityError
    from studies.storage import now, sessions
    with pytest.raises(IntegrityError):
        with store.engine.begin() as c:
            c.execute(sessions.insert().values(study="st", participant="P1", algorithm="B", seed=1,
                                               n_trials=3, started_at=now()))
    # another study is another session
    s3, created3 = store.start_session("other", "P1", ["A"], n_trials=3)
    assert created3 and s3.id != s1.id


def test_answer_recorded_once_and_session_finishes(store):
    s, _ = store.start_session("st", "P1", ["A"], n_trials=2)
    assert store.record_answer(s, _row(0))
    assert not store.record_answer(s, _row(0, labeled_real=True))  # double click / second tab
    assert store.answered(s.id) == 1
    assert store.session_progress("st", "P1") == (s, 1)
    assert store.session_progress("st", "nobody") == (None, 0)
    assert not store.is_finished(s.id)
    assert store.record_answer(s, _row(1))
    assert store.is_finished(s.id)
    rows = store.answer_rows("st")
    assert [r["trial_index"] for r in rows] == [0, 1]
    assert rows[0]["labeled_real"] is False  # the first answer is the one kept
    assert rows[0]["participant"] == "P1" and rows[0]["algorithm"] == "A"
    assert rows[0]["display_ms_second"] == pytest.approx(999.9)


def test_balanced_assignment_counts_sessions_not_abandoned(store):
    algos = ["A", "B", "C"]
    # A: two completed; B: one completed, one running; C: one running, two abandoned
    for pid, algo, finish in [("p1", "A", True), ("p2", "A", True), ("p3", "B", True),
                              ("p4", "B", False), ("p5", "C", False)]:
        s, _ = store.start_session("st", pid, [algo], n_trials=1)
        if finish:
            store.record_answer(s, _row(0))
    old = now() - dt.timedelta(minutes=61)
    with store.engine.begin() as c:
        for pid in ("old1", "old2"):
            c.execute(sessions.insert().values(study="st", participant=pid, algorithm="C", seed=1,
                                               n_trials=1, started_at=old))
    assert store.session_counts("st") == {"A": (2, 0), "B": (1, 1), "C": (0, 3)}
    # live counts A 2, B 2, C 1 (the two sessions older than 60 minutes are abandoned)
    s, _ = store.start_session("st", "new1", algos, n_trials=1, timeout_s=3600)
    assert s.algorithm == "C"
    # now A 2, B 2, C 2: ties go to the first algorithm
    s, _ = store.start_session("st", "new2", algos, n_trials=1, timeout_s=3600)
    assert s.algorithm == "A"
    # with a 2-hour timeout the old sessions count: A 3, B 2, C 4
    s, _ = store.start_session("st", "new3", algos, n_trials=1, timeout_s=7200)
    assert s.algorithm == "B"


def _burst(n: int, fn) -> list:
    """Run fn(k) for k < n in n threads released at the same instant; re-raise any failure."""
    barrier = threading.Barrier(n)
    out: list = [None] * n

    def run(k):
        try:
            barrier.wait(timeout=30)
            out[k] = fn(k)
        except Exception as e:  # pragma: no cover - re-raised below
            out[k] = e

    threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
    [t.start() for t in threads]
    [t.join(timeout=120) for t in threads]
    errors = [r for r in out if isinstance(r, Exception)]
    if errors:
        raise errors[0]
    return out


def test_burst_of_arrivals_is_balanced(store):
    """30 participants arrive at once (3 algorithms, one completed session already on A)."""
    algos = ["A", "B", "C"]
    s, _ = store.start_session("st", "early", ["A"], n_trials=1)
    store.record_answer(s, _row(0))
    got = _burst(30, lambda k: store.start_session("st", f"b{k}", algos, n_trials=1)[0].algorithm)
    per_algo = {a: got.count(a) for a in algos}
    assert sum(per_algo.values()) == 30
    # with the completed one: 31 sessions over 3 algorithms -> 11, 10, 10
    totals = {a: per_algo[a] + (a == "A") for a in algos}
    assert max(totals.values()) - min(totals.values()) <= 1, totals
    rows = store.session_rows("st")
    assert {a: sum(r["algorithm"] == a for r in rows) for a in algos} == totals


def test_same_participant_twice_at_once_gets_one_session(store):
    got = _burst(8, lambda k: store.start_session("st", f"twin{k // 2}", ["A", "B"], n_trials=1))
    for k in range(0, 8, 2):
        (s1, c1), (s2, c2) = got[k], got[k + 1]
        assert s1 == s2 and c1 != c2  # one created it, the other got the same row
    assert len(store.session_rows("st")) == 4


def _race(n: int, fn) -> list[tuple[str, object]]:
    """Run ``fn(i)`` in ``n`` threads released together by a barrier; every outcome comes back as
    ("ok", result) or ("error", repr of the exception), in thread order."""
    barrier = threading.Barrier(n)
    outcomes: list[tuple[str, object]] = [("missing", None)] * n

    def run(i):
        try:
            barrier.wait(timeout=60)
            outcomes[i] = ("ok", fn(i))
        except BaseException as e:  # collected and asserted on by the caller
            outcomes[i] = ("error", repr(e))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    [t.start() for t in threads]
    [t.join(timeout=120) for t in threads]
    assert not any(t.is_alive() for t in threads), "a thread did not finish"
    return outcomes


def test_concurrent_participants_lose_and_duplicate_nothing(store):
    """20 participants at once, each opening the study in two tabs at the same instant and sending
    every one of 5 answers twice at the same instant, with different contents (a double click that
    changed its mind, or two tabs). Per contest exactly one request wins, the other is told it
    lost (``created`` False, ``record_answer`` False), and what is stored is the winner's answer."""
    n_part, n_trials = 20, 5

    def participant(k):
        starts = _race(2, lambda i: store.start_session("st", f"c{k}", ["A", "B"], n_trials=n_trials))
        assert all(kind == "ok" for kind, _ in starts), starts
        (s0, created0), (s1, created1) = (v for _, v in starts)
        assert s0.id == s1.id and s0.algorithm == s1.algorithm
        assert sorted([created0, created1]) == [False, True]  # one creator, one told it exists
        trials = []
        for i in range(n_trials):
            rows = [dict(_row(i), answer=j, correct=j == 1, response_ms=100.0 + j) for j in (0, 1)]
            got = _race(2, lambda j: store.record_answer(s0, rows[j]))
            assert all(kind == "ok" for kind, _ in got), got
            trials.append(([v for _, v in got], rows))
        return s0, trials

    results = _race(n_part, participant)
    errors = [v for kind, v in results if kind != "ok"]
    assert not errors, errors
    stored = {(r["participant"], r["trial_index"]): r for r in store.answer_rows("st")}
    assert len(store.answer_rows("st")) == n_part * n_trials == len(stored)
    for _, (session, trials) in results:
        for i, (accepted, rows) in enumerate(trials):
            assert sorted(accepted) == [False, True], (session.participant, i, accepted)
            winner = rows[accepted.index(True)]
            row = stored[(session.participant, i)]
            assert (row["answer"], row["correct"], row["response_ms"]) == (
                winner["answer"], winner["correct"], winner["response_ms"])
            assert row["session_id"] == session.id
    done, running = zip(*store.session_counts("st").values())
    assert sum(done) == n_part and sum(running) == 0


def test_sqlite_runs_in_wal_mode(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'w.db'}")
    with s.engine.connect() as c:
        assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    s.close()


def test_bad_database_url_is_one_line(tmp_path, capsys):
    from p2peval.cli import main
    rc = main(["study", "export", "nosuchdriver://x/y"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("p2peval: error:") and "nosuchdriver" in err
    assert len(err.splitlines()) == 1
    rc = main(["study", "export", f"sqlite:///{tmp_path}/missing/dir/x.db"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "cannot open database" in err and len(err.splitlines()) == 1


def test_analyze_and_export_read_the_database(store, tmp_path, capsys):
    from p2peval.cli import main
    from p2peval.report.scorefile import read_score
    for k, algo in enumerate(["A", "A", "B"]):
        s, _ = store.start_session("st", f"p{k}", [algo], n_trials=4)
        for i in range(4):
            store.record_answer(s, _row(i, "practice" if i == 0 else "main", labeled_real=i <= k))
    out = tmp_path / "score.json"
    assert main(["study", "analyze", store.url, "--out", str(out), "--n-resamples", "200",
                 "--permutations", "200"]) == 0
    rows = {r["label"]: r for r in read_score(out)["rows"]}
    # main trials only (trial 0 is practice): p0 0/3 and p1 1/3 -> A 1/6; p2 2/3 -> B
    assert rows["A"]["values"]["pct_labeled_real"] == pytest.approx(100 * 1 / 6)
    assert rows["B"]["values"]["pct_labeled_real"] == pytest.approx(100 * 2 / 3)
    capsys.readouterr()
    assert main(["study", "export", store.url]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 + 12 and lines[0].startswith("session_id,study,algorithm")
