"""Study records in SQL (docs/architecture.md contract 4), through SQLAlchemy.

Three tables. ``sessions``: one row per participant per study, unique on (study, participant), so
a participant can never start a second session, whatever algorithm it would get. ``answers``: one
row per answered trial, unique on (session, trial index), so a double click or a second tab
inserts once; each answer is committed in its own transaction the moment it arrives.
``assignment``: one counter row per study, the lock that makes assignment atomic (see
``Store.start_session``).

SQLite (the default) runs in WAL mode with a busy timeout, which lets one server's threads write
concurrently; every SQLite write transaction starts with ``BEGIN IMMEDIATE`` (the write lock is
taken before the first read). PostgreSQL serves several replicas of the app.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import (BigInteger, Boolean, Column, DateTime, Float, ForeignKey, Integer, MetaData,
                        String, Table, UniqueConstraint, create_engine, event, func, or_, select)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError
from sqlalchemy.exc import NoSuchModuleError

from p2peval.core.errors import ConfigError

metadata = MetaData()

sessions = Table(
    "study_sessions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("study", String(64), nullable=False),
    Column("participant", String(128), nullable=False),
    Column("algorithm", String(64), nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("n_trials", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("study", "participant", name="uq_session_study_participant"),
)

answers = Table(
    "study_answers", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", Integer, ForeignKey("study_sessions.id"), nullable=False),
    Column("study", String(64), nullable=False),
    Column("algorithm", String(64), nullable=False),
    Column("participant", String(128), nullable=False),
    Column("trial_index", Integer, nullable=False),
    Column("kind", String(16), nullable=False),          # practice | main | vigilance
    Column("layout", String(16), nullable=False),        # sequential | side-by-side
    Column("ask", String(8), nullable=False),            # the participant chose the fake|real one
    Column("real_position", Integer, nullable=False),    # 0 first/left, 1 second/right
    Column("trial_seed", BigInteger, nullable=False),
    Column("answer", Integer, nullable=False),           # position chosen
    Column("correct", Boolean, nullable=False),
    Column("labeled_real", Boolean, nullable=False),     # the fake was taken for the real one
    Column("response_ms", Float, nullable=True),         # end of display -> click, in the browser
    Column("display_ms_first", Float, nullable=True),    # measured in the browser
    Column("display_ms_second", Float, nullable=True),
    Column("real_image", String(512), nullable=False),   # file names (server side only)
    Column("fake_image", String(512), nullable=False),
    Column("shown_at", DateTime(timezone=True), nullable=True),
    Column("answered_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("session_id", "trial_index", name="uq_answer_session_trial"),
)

assignment = Table(
    "study_assignment", metadata,
    Column("study", String(64), primary_key=True),
    Column("arrivals", Integer, nullable=False),         # assignment transactions so far
)

ANSWER_COLUMNS = [c.name for c in answers.columns if c.name != "id"]


DEFAULT_TIMEOUT_S = 3600.0  # a running session older than this counts as abandoned


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str) -> Engine:
    """Engine for a database URL; SQLite gets WAL mode; tables are created if missing."""
    try:
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False,
                                                 "isolation_level": "IMMEDIATE"})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
        metadata.create_all(engine)
    except (ArgumentError, NoSuchModuleError, ValueError) as e:
        raise ConfigError(f"invalid database URL {url!r} ({e})") from None
    except OperationalError as e:
        raise ConfigError(f"cannot open database {url!r} ({str(e.orig).strip().splitlines()[0]})") from None
    return engine


@dataclass(frozen=True)
class Session:
    id: int
    study: str
    participant: str
    algorithm: str
    seed: int
    n_trials: int
    finished: bool


def _session(row) -> Session:
    return Session(row.id, row.study, row.participant, row.algorithm, int(row.seed), row.n_trials,
                   row.finished_at is not None)


class Store:
    """All database access of the app, the analysis and the simulator."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)

    def get_session(self, study: str, participant: str) -> Session | None:
        with self.engine.connect() as c:
            row = c.execute(select(sessions).where(sessions.c.study == study,
                                                   sessions.c.participant == participant)).first()
        return _session(row) if row else None

    def session_progress(self, study: str, participant: str) -> tuple[Session | None, int]:
        """(the participant's session or None, its number of answered trials), in one query."""
        n = (select(func.count()).select_from(answers)
             .where(answers.c.session_id == sessions.c.id).scalar_subquery())
        with self.engine.connect() as c:
            row = c.execute(select(sessions, n.label("n_answered"))
                            .where(sessions.c.study == study,
                                   sessions.c.participant == participant)).first()
        return (_session(row), int(row.n_answered)) if row else (None, 0)

    def session_counts(self, study: str) -> dict[str, tuple[int, int]]:
        """algorithm -> (completed sessions, sessions in progress)."""
        with self.engine.connect() as c:
            rows = c.execute(select(sessions.c.algorithm, sessions.c.finished_at.is_(None),
                                    func.count()).where(sessions.c.study == study)
                             .group_by(sessions.c.algorithm, sessions.c.finished_at.is_(None))).all()
        out: dict[str, list[int]] = {}
        for algo, unfinished, n in rows:
            out.setdefault(algo, [0, 0])[1 if unfinished else 0] += n
        return {k: (v[0], v[1]) for k, v in out.items()}

    def start_session(self, study: str, participant: str, algorithms: list[str],
                      n_trials: int, seed: int | None = None,
                      timeout_s: float = DEFAULT_TIMEOUT_S) -> tuple[Session, bool]:
        """The participant's session, created if new -> (session, created).

        Balanced assignment: the new session gets the algorithm with the fewest sessions that are
        not abandoned (completed, or started less than ``timeout_s`` ago), ties to the earlier
        algorithm in ``algorithms``. Counting and inserting happen in one transaction that first
        writes the study's ``assignment`` row: PostgreSQL holds that row's lock until commit, SQLite
        holds its single write lock (``BEGIN IMMEDIATE``). So arrivals at once, in one server's
        threads or in several replicas on one database, are assigned one after the other and each
        sees the sessions the previous ones created; the same participant arriving twice at once
        gets one session.
        """
        existing = self.get_session(study, participant)
        if existing:
            return existing, False
        self._ensure_assignment_row(study)
        seed = secrets.randbits(31) if seed is None else seed
        try:
            with self.engine.begin() as c:
                locked = c.execute(assignment.update().where(assignment.c.study == study)
                                   .values(arrivals=assignment.c.arrivals + 1)).rowcount
                assert locked == 1
                row = c.execute(select(sessions).where(sessions.c.study == study,
                                                       sessions.c.participant == participant)).first()
                if row is not None:
                    return _session(row), False
                counts = self._live_counts(c, study, timeout_s)
                algo = min(algorithms, key=lambda a: (counts.get(a, 0), algorithms.index(a)))
                c.execute(sessions.insert().values(study=study, participant=participant,
                                                   algorithm=algo, seed=seed, n_trials=n_trials,
                                                   started_at=now()))
        except IntegrityError:  # a writer that does not take the lock (an older server) won
            pass
        else:
            session = self.get_session(study, participant)
            assert session is not None
            return session, True
        session = self.get_session(study, participant)
        assert session is not None
        return session, False

    def _ensure_assignment_row(self, study: str) -> None:
        with self.engine.connect() as c:
            if c.execute(select(assignment.c.study).where(assignment.c.study == study)).first():
                return
        try:
            with self.engine.begin() as c:
                c.execute(assignment.insert().values(study=study, arrivals=0))
        except IntegrityError:
            pass  # created by a concurrent arrival

    @staticmethod
    def _live_counts(c, study: str, timeout_s: float) -> dict[str, int]:
        """algorithm -> sessions not abandoned: completed, or started within ``timeout_s``."""
        cutoff = now() - dt.timedelta(seconds=timeout_s)
        rows = c.execute(select(sessions.c.algorithm, func.count())
                         .where(sessions.c.study == study,
                                or_(sessions.c.finished_at.is_not(None),
                                    sessions.c.started_at >= cutoff))
                         .group_by(sessions.c.algorithm)).all()
        return {algo: int(n) for algo, n in rows}

    def answered(self, session_id: int) -> int:
        """Number of answered trials = the index of the next trial."""
        with self.engine.connect() as c:
            return int(c.execute(select(func.count()).select_from(answers)
                                 .where(answers.c.session_id == session_id)).scalar_one())

    def record_answer(self, session: Session, row: dict) -> bool:
        """Insert one answer and commit; False if this trial was already answered."""
        values = dict(row, session_id=session.id, study=session.study, algorithm=session.algorithm,
                      participant=session.participant, answered_at=now())
        try:
            with self.engine.begin() as c:
                c.execute(answers.insert().values(**values))
                if values["trial_index"] == session.n_trials - 1:
                    c.execute(sessions.update().where(sessions.c.id == session.id)
                              .values(finished_at=now()))
        except IntegrityError:
            return False
        return True

    def is_finished(self, session_id: int) -> bool:
        with self.engine.connect() as c:
            return c.execute(select(sessions.c.finished_at).where(sessions.c.id == session_id)
                             ).scalar_one() is not None

    def answer_rows(self, study: str | None = None) -> list[dict]:
        """Every answer (optionally of one study), ordered by study, session, trial."""
        q = select(*[answers.c[n] for n in ANSWER_COLUMNS])
        if study is not None:
            q = q.where(answers.c.study == study)
        q = q.order_by(answers.c.study, answers.c.session_id, answers.c.trial_index)
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(q)]

    def session_rows(self, study: str | None = None) -> list[dict]:
        q = select(sessions)
        if study is not None:
            q = q.where(sessions.c.study == study)
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(q.order_by(sessions.c.id))]

    def close(self) -> None:
        self.engine.dispose()
