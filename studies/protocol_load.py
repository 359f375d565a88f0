"""Load run without a browser: N simulated participants (studies/loadclient.py) against one server.

Per answer it measures answer sent -> answer committed (the row's ``answered_at``; client and
server share this machine's clock) and answer sent -> next trial's message received; it counts
errors and reconnects, samples the server's CPU time and memory from /proc, and checks the
database afterwards: every answer a participant sent is stored exactly once, one session per
participant.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import secrets
import statistics
import tempfile
import threading
import time
from pathlib import Path

DEFAULT_PACE = dict(practice_trials=1, main_trials=6, display_ms=1000, gap_ms=300, fixation_ms=500)


def percentiles(values: list[float]) -> dict:
    """n, median, p95, p99 and max (numpy's linear rule), None when empty."""
    import numpy as np
    if not values:
        return {"n": 0, "median": None, "p95": None, "p99": None, "max": None}
    a = np.asarray(values, dtype=float)
    return {"n": len(values), "median": float(statistics.median(values)),
            "p95": float(np.percentile(a, 95)), "p99": float(np.percentile(a, 99)),
            "max": float(a.max())}


def _group_pids(pgid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            out.append(int(stat.parent.name))
    return out


def rss_mb(pgid: int) -> float:
    """Resident memory of a process group in MiB (VmRSS of each member, from /proc)."""
    total = 0
    for pid in _group_pids(pgid):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


class MemorySampler:
    """Peak resident memory of the server's process group, sampled every ``every_s`` seconds."""

    def __init__(self, pgid: int, every_s: float = 0.5):
        self.pgid, self.every_s, self.peak_mb = pgid, every_s, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, rss_mb(self.pgid))
            self._stop.wait(self.every_s)

    def __enter__(self) -> "MemorySampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _epoch(t) -> float:
    if t.tzinfo is None:  # SQLite gives back the stored UTC time without its zone
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.timestamp()


def check_database(store, study: str, logs) -> dict:
    """Answers sent vs rows stored, per participant; latencies sent -> committed."""
    rows = store.answer_rows(study)
    sessions = store.session_rows(study)
    by_pid: dict[str, list[dict]] = {}
    for r in rows:
        by_pid.setdefault(r["participant"], []).append(r)
    keys = [(r["participant"], r["trial_index"]) for r in rows]
    lost = duplicated = 0
    committed_ms = []
    for log in logs:
        mine = sorted(by_pid.get(log.pid, []), key=lambda r: r["trial_index"])
        if [r["trial_index"] for r in mine] != list(range(len(mine))):
            duplicated += 1  # a gap or a repeat in the stored trial indices
        lost += max(0, len(log.answers_sent) - len(mine))
        duplicated += max(0, len(mine) - len(log.answers_sent))
        for sent, r in zip(log.answers_sent, mine):
            committed_ms.append((_epoch(r["answered_at"]) - sent) * 1000)
    per_pid = {}
    for s in sessions:
        per_pid[s["participant"]] = per_pid.get(s["participant"], 0) + 1
    algos: dict[str, int] = {}
    for s in sessions:
        if s["finished_at"] is not None:
            algos[s["algorithm"]] = algos.get(s["algorithm"], 0) + 1
    return {"answers_sent": sum(len(l.answers_sent) for l in logs), "answers_stored": len(rows),
            "answers_lost": lost, "answers_duplicated": duplicated + len(keys) - len(set(keys)),
            "sessions": len(sessions), "sessions_per_participant_max": max(per_pid.values(), default=0),
            "completed_per_algorithm": algos, "committed_ms": committed_ms}


def run_protocol_load(participants: int = 20, *, db: str | None = None,
                      workdir: str | Path | None = None, servers: int = 1, ramp_s: float = 1.0,
                      response_ms: float = 700.0, size: int = 64, image_size: int = 256,
                      timeout_s: float = 60.0, deadline_s: float | None = None,
                      **pace) -> dict:
    """Start ``servers`` study servers on one database, drive the participants (round robin over
    the servers), check the database; returns the figures."""
    from studies.demo import write_demo_study
    from studies.server import StudyServer
    from studies.storage import Store

    pace = {**DEFAULT_PACE, **pace}
    work = Path(workdir or tempfile.mkdtemp(prefix="study-load-"))
    name = f"load-{secrets.token_hex(4)}"  # one study per run: a shared database stays separable
    study = write_demo_study(work / name, n_images=pace["practice_trials"] + pace["main_trials"] + 2,
                             size=size, name=name, completion_code="LOAD-DONE",
                             image_size=image_size, **pace)
    db = db or f"sqlite:///{work / 'load.db'}"
    n_trials = pace["practice_trials"] + pace["main_trials"]
    per_trial_s = (pace["fixation_ms"] + 2 * pace["display_ms"] + pace["gap_ms"] + response_ms) / 1000
    deadline_s = deadline_s or (ramp_s + 3 * n_trials * per_trial_s + 120)
    srvs = [StudyServer(study, db=db, log=work / f"server{i}.log") for i in range(servers)]
    try:
        for s in srvs:
            s.start()
        cpu0 = [s.cpu_seconds() for s in srvs]
        load0 = os.getloadavg()
        client0 = os.times()
        t0 = time.perf_counter()
        with MemorySampler(srvs[0].proc.pid) as mem:
            logs, cut_off = asyncio.run(drive([s.url for s in srvs], participants, ramp_s=ramp_s,
                                              response_ms=response_ms, timeout_s=timeout_s,
                                              deadline_s=deadline_s))
        wall = time.perf_counter() - t0
        client = os.times()
        client_cpu = client.user + client.system - client0.user - client0.system
        cpu = sum(s.cpu_seconds() - c for s, c in zip(srvs, cpu0))
        rss_end = sum(rss_mb(s.proc.pid) for s in srvs)
    finally:
        for s in srvs:
            s.stop()
    store = Store(db)
    try:
        checks = check_database(store, name, logs)
    finally:
        store.close()
    errors = [l.error for l in logs if l.error]
    committed = checks.pop("committed_ms")
    return {
        "client": "protocol", "participants": participants, "servers": servers,
        "database": "postgresql" if db.startswith("postgresql") else "sqlite",
        "study": name, "trials_per_participant": n_trials, "image_size": image_size,
        "pace_ms": {**{k: v for k, v in pace.items() if k.endswith("_ms")},
                    "response_ms": response_ms}, "ramp_s": ramp_s,
        "completed": sum(l.completed for l in logs), "errors": len(errors) + cut_off,
        "error_examples": errors[:5], "cut_off_at_deadline": cut_off,
        "reconnects": sum(l.reconnects for l in logs),
        **checks,
        "answer_to_committed_ms": percentiles(committed),
        "answer_to_next_trial_ms": percentiles([x for l in logs for x in l.to_next_trial_ms]),
        "answer_to_first_reply_ms": percentiles([x for l in logs for x in l.to_response_ms]),
        "answers_per_s": checks["answers_stored"] / wall if wall else None,
        "wall_s": wall, "server_cpu_s": cpu,
        "server_cpu_share_of_one_core": cpu / wall if wall else None,
        "server_cpu_ms_per_answer": 1000 * cpu / max(checks["answers_stored"], 1),
        # the simulated participants' own CPU (one process, on the same machine as the server)
        "client_cpu_share_of_one_core": client_cpu / wall if wall else None,
        "server_rss_peak_mb_first_server": mem.peak_mb, "server_rss_end_mb_all": rss_end,
        "bytes_received_per_answer": (sum(l.bytes_received for l in logs)
                                      / max(checks["answers_stored"], 1)),
        "load_average_before": list(load0), "load_average_after": list(os.getloadavg()),
    }


async def drive(urls: list[str], n: int, *, prefix: str = "sim", ramp_s: float = 0.0,
                response_ms: float = 0.0, timeout_s: float = 60.0, deadline_s: float = 300.0):
    """Participants ``<prefix>0000``... arriving over ``ramp_s`` seconds, round robin over the
    servers; returns (logs of those who finished in time, number cut off at the deadline)."""
    from studies.loadclient import participant

    async def one(k: int):
        await asyncio.sleep(ramp_s * k / max(n, 1))
        return await participant(urls[k % len(urls)], f"{prefix}{k:04d}", response_ms=response_ms,
                                 timeout_s=timeout_s)

    tasks = [asyncio.ensure_future(one(k)) for k in range(n)]
    done, pending = await asyncio.wait(tasks, timeout=deadline_s)
    for t in pending:  # the run stops by itself: what is still going is cut off and counted
        t.cancel()
    return [t.result() for t in tasks if t in done and not t.cancelled()], len(pending)
