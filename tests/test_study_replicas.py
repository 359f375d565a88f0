"""Two study servers on one PostgreSQL database, participants split round robin between them."""

from __future__ import annotations

import asyncio

import pytest

from studies.demo import write_demo_study
from studies.protocol_load import check_database, drive
from studies.server import StudyServer
from studies.storage import Store
from studies.wsclient import StreamlitClient, button

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


async def _twin(urls: list[str]) -> list[str]:
    """The same participant opens the study on both servers and presses Start on both at once."""
    clients = [StreamlitClient(u, "pid=twin") for u in urls]
    starts = []
    for c in clients:
        await c.connect()
        run, _ = await c.rerun()
        starts.append(run.find("button", "Start"))
    runs = await asyncio.gather(*[c.rerun([button(s)]) for c, s in zip(clients, starts)])
    for c in clients:
        await c.close()
    return [r.texts() for r, _ in runs]


def test_two_replicas_one_database(postgres_url, tmp_path):
    path = write_demo_study(tmp_path / "s", n_images=4, size=16, practice_trials=1, main_trials=2,
                            display_ms=20, gap_ms=0, fixation_ms=0, completion_code="R-2",
                            name="replicas", image_size=32, blur={"A": 0.5, "B": 1.5, "C": 2.5})
    servers = [StudyServer(path, db=postgres_url, log=tmp_path / f"s{i}.log") for i in (0, 1)]
    try:
        for s in servers:
            s.start()
        urls = [s.url for s in servers]
        texts = asyncio.run(_twin(urls))
        logs, cut_off = asyncio.run(asyncio.wait_for(
            drive(urls, 40, prefix="rep", ramp_s=2.0, timeout_s=90, deadline_s=240), 260))
    finally:
        for s in servers:
            s.stop()
    assert all("Practice trial 1 of 1" in t for t in texts)
    store = Store(postgres_url)
    checks = check_database(store, "replicas", logs)
    sessions = store.session_rows("replicas")
    store.close()
    assert cut_off == 0 and [l.error for l in logs if l.error] == []
    assert sum(l.completed for l in logs) == 40
    assert checks["answers_sent"] == checks["answers_stored"] == 40 * 3  # the twin answered none
    assert checks["answers_lost"] == checks["answers_duplicated"] == 0
    assert [s["participant"] for s in sessions].count("twin") == 1
    assert checks["sessions_per_participant_max"] == 1 and checks["sessions"] == 41
    done = checks["completed_per_algorithm"]
    assert sum(done.values()) == 40 and set(done) == {"A", "B", "C"}
    assert max(done.values()) - min(done.values()) <= 1, done
