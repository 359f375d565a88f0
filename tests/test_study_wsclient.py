"""Simulated participants over Streamlit's websocket protocol against a real study server.

Every answer sent is stored once; a session sees only its own stimuli and can store only its own
answers; a reconnect does not bring the trial's images again when the page still has them.
"""

from __future__ import annotations

import asyncio

import pytest

from studies.config import load_study
from studies.demo import write_demo_study
from studies.loadclient import COMPONENT
from studies.protocol import load_material, plan_session
from studies.protocol_load import check_database, drive
from studies.server import StudyServer
from studies.stimuli import stimulus_png
from studies.storage import Store
from studies.wsclient import StreamlitClient, button, component_data, component_event

PRACTICE, MAIN = 1, 2


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    d = tmp_path_factory.mktemp("ws-study")
    path = write_demo_study(d / "s", n_images=5, size=32, practice_trials=PRACTICE,
                            main_trials=MAIN, display_ms=30, gap_ms=10, fixation_ms=0,
                            completion_code="WS-9", name="ws", image_size=48)
    db = f"sqlite:///{d / 'ws.db'}"
    with StudyServer(path, db=db, log=d / "server.log") as srv:
        yield srv, path, db


def _run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


def test_concurrent_simulated_participants_every_answer_stored_once(served):
    srv, path, db = served
    logs, cut_off = _run(drive([srv.url], 4, prefix="conc", timeout_s=60, deadline_s=100))
    assert cut_off == 0 and [l.error for l in logs] == [""] * 4
    assert all(l.completed and "WS-9" in l.code for l in logs)
    store = Store(db)
    checks = check_database(store, "ws", logs)
    rows = [r for r in store.answer_rows("ws") if r["participant"].startswith("conc")]
    store.close()
    assert checks["answers_sent"] == 4 * (PRACTICE + MAIN) == len(rows)
    assert checks["answers_lost"] == checks["answers_duplicated"] == 0
    assert sorted((r["participant"], r["trial_index"]) for r in rows) == sorted(
        (f"conc{k:04d}", i) for k in range(4) for i in range(PRACTICE + MAIN))
    for r in rows:  # the server scored what the client chose; the client's timing was stored
        assert r["correct"] == (r["answer"] == 1 - r["real_position"])
        assert r["display_ms_first"] >= 29 and r["response_ms"] >= 0


def _images(data: dict) -> list[bytes]:
    return data["images"]


async def _start(url: str, pid: str) -> tuple[StreamlitClient, object]:
    c = StreamlitClient(url, f"pid={pid}")
    await c.connect()
    run, _ = await c.rerun()
    run, _ = await c.rerun([button(run.find("button", "Start"))])
    return c, run.find(COMPONENT)


def test_sessions_see_and_store_only_their_own_trials(served):
    srv, path, db = served
    cfg = load_study(path)
    material = load_material(cfg)

    async def scenario():
        (a, ea), (b, eb) = await asyncio.gather(_start(srv.url, "isoA"), _start(srv.url, "isoB"))
        da, db_ = component_data(ea), component_data(eb)
        # A answers with B's trial token: refused; then A's own answer twice: stored once
        foreign = {"trial": db_["trial"], "choice": 1, "display_ms": [30, 30], "response_ms": 5}
        await a.rerun([component_event(ea, "answer", foreign)])
        own = dict(foreign, trial=da["trial"], choice=0)
        await a.rerun([component_event(ea, "answer", own)])
        await a.rerun([component_event(ea, "answer", dict(own, choice=1))])
        for c in (a, b):
            await c.close()
        return da, db_

    da, db_ = _run(scenario())
    store = Store(db)
    rows = {p: [r for r in store.answer_rows("ws") if r["participant"] == p] for p in ("isoA", "isoB")}
    sessions = {p: store.get_session("ws", p) for p in ("isoA", "isoB")}
    store.close()
    assert rows["isoB"] == []
    assert [(r["trial_index"], r["answer"]) for r in rows["isoA"]] == [(0, 0)]
    # each page got exactly its own first trial's pair, re-derived from its session's seed
    for pid, data in (("isoA", da), ("isoB", db_)):
        s = sessions[pid]
        t = plan_session(cfg, material, s.algorithm, s.seed)[0]
        pair = [stimulus_png(t.real, cfg.image_size), stimulus_png(t.fake, cfg.image_size)]
        if t.real_position == 1:
            pair.reverse()
        assert _images(data) == pair
    assert sessions["isoA"].algorithm != sessions["isoB"].algorithm  # balanced: one each
    assert da["trial"] != db_["trial"]


def test_reconnect_does_not_resend_the_stimulus(served):
    srv, _, _ = served

    async def scenario():
        c, el = await _start(srv.url, "recon")
        assert not el.ref and len(el.proto.bytes) > 10_000  # the trial with its images
        token = component_data(el)["trial"]
        await c.ws.close()  # the connection drops; the page reconnects to its session
        await c.connect(resume=True)
        run, _ = await c.rerun(cached_hashes=[el.hash])
        again = run.find("ref")
        assert again is not None and again.hash == el.hash  # a reference, not the images
        assert run.find(COMPONENT) is None
        # a page that lost its cache (needs the images) gets them, for the same trial
        run, _ = await c.rerun()
        full = run.find(COMPONENT)
        assert full is not None and component_data(full)["trial"] == token
        assert full.hash == el.hash
        await c.close()

    _run(scenario())
