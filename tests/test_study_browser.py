"""End to end in a real browser: Chromium driven by Playwright against a study server started here.

A participant does the practice (with feedback) and the main trials, reloads half-way, gets the
completion code; a second session is refused; nothing the browser receives names the real image;
a server killed mid-study restarts and the participant resumes with nothing lost.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from studies.demo import write_demo_study
from studies.loadtest import CHROMIUM, CHROMIUM_ARGS
from studies.server import StudyServer
from studies.storage import Store
from png_chunks import png_chunks

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module", autouse=True)
def chromium_present():
    """These tests need a real browser: missing, they fail (never skip) and say how to get it."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not installed (make system-deps installs Debian's chromium)")


DISPLAY_MS = 120
PRACTICE, MAIN = 2, 3
ALGOS = {"algoAlpha": 0.5, "algoBeta": 2.5}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    d = tmp_path_factory.mktemp("browser-study")
    path = write_demo_study(d / "s", n_images=6, size=32, blur=ALGOS, practice_trials=PRACTICE,
                            main_trials=MAIN, display_ms=DISPLAY_MS, gap_ms=60, fixation_ms=100,
                            completion_code="CODE-B77", name="browser")
    return path, d


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(study):
    path, d = study
    srv = StudyServer(path, db=f"sqlite:///{d / 'browser.db'}", log=d / "server.log").start()
    yield srv
    srv.stop()


class Recorder:
    """Everything the page receives: HTTP bodies and websocket frames.

    Subresources go through a route that fetches the response, keeps its body and hands it to the
    page, so each body is read before the page sees it (bodies read from "response" events are
    lost when the page navigates away, e.g. on reload). Page documents are left to the browser
    (a fulfilled document would lose its loopback origin, and Chromium would then refuse the
    app's websocket) and read from their response event. A body that cannot be read is recorded
    as a failure, never as an empty body, and the audit below fails on it.
    """

    def __init__(self, page):
        self.frames: list[bytes] = []
        self.bodies: list[tuple[str, bytes]] = []
        self.failures: list[tuple[str, str]] = []
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))
        page.on("response", self._document)
        page.route("**/*", self._route)

    def _frame(self, payload):
        self.frames.append(payload if isinstance(payload, bytes) else payload.encode())

    def _keep(self, url: str, read) -> bool:
        try:
            self.bodies.append((url, read()))
            return True
        except Exception as e:  # recorded, and fails the audit
            self.failures.append((url, repr(e)))
            return False

    def _document(self, response):
        if response.request.is_navigation_request() and not 300 <= response.status < 400:
            self._keep(response.url, response.body)

    def _route(self, route):
        if route.request.is_navigation_request():
            route.continue_()
            return
        try:
            response = route.fetch()
        except Exception as e:
            self.failures.append((route.request.url, repr(e)))
            route.abort()
            return
        if self._keep(route.request.url, response.body):
            route.fulfill(response=response, body=self.bodies[-1][1])
        else:
            route.abort()


def _answer(page, label="First"):
    page.get_by_role("button", name=label, exact=True).click(timeout=30000)


def _rows(db, pid):
    store = Store(db)
    rows = [r for r in store.answer_rows("browser") if r["participant"] == pid]
    store.close()
    return rows


def _wait_rows(db, pid, n, page):
    for _ in range(100):
        if len(_rows(db, pid)) >= n:
            return _rows(db, pid)
        page.wait_for_timeout(100)
    raise AssertionError(f"expected {n} stored answers of {pid}")




def test_participant_runs_the_protocol(study, server, browser):
    path, d = study
    db = server.db
    ctx = browser.new_context()
    page = ctx.new_page()
    rec = Recorder(page)
    page.goto(f"{server.url}/?pid=B1")
    page.get_by_role("button", name="Start").click()
    # practice with feedback, matching what was stored
    for i in range(PRACTICE):
        _answer(page, "First")
        page.get_by_role("button", name="Continue").wait_for(timeout=30000)
        row = _wait_rows(db, "B1", i + 1, page)[i]
        shown = "Correct" if row["correct"] else "Incorrect"
        assert page.get_by_text(shown, exact=True).is_visible()
        other = "Incorrect" if row["correct"] else "Correct"
        assert page.get_by_text(other, exact=True).count() == 0
        page.get_by_role("button", name="Continue").click()
    page.get_by_text(f"Trial 1 of {MAIN}").wait_for(timeout=30000)
    # a double click records one answer, for this trial only
    btn = page.get_by_role("button", name="Second", exact=True)
    btn.wait_for(timeout=30000)
    btn.dblclick()
    page.get_by_text(f"Trial 2 of {MAIN}").wait_for(timeout=30000)
    assert len(_wait_rows(db, "B1", PRACTICE + 1, page)) == PRACTICE + 1
    # reload: resumes at the next unanswered trial
    page.reload()
    page.get_by_text(f"You continue with trial {PRACTICE + 2} of {PRACTICE + MAIN}").wait_for(timeout=30000)
    page.get_by_role("button", name="Continue").click()
    for _ in range(MAIN - 1):
        _answer(page, "First")
    page.get_by_text("Thank you, you have completed the study.").wait_for(timeout=30000)
    page.get_by_text("CODE-B77").wait_for(timeout=30000)  # the completion code
    rows = _wait_rows(db, "B1", PRACTICE + MAIN, page)
    assert [r["trial_index"] for r in rows] == list(range(PRACTICE + MAIN))
    assert [r["kind"] for r in rows] == ["practice"] * PRACTICE + ["main"] * MAIN
    assert [r["answer"] for r in rows] == [0, 0, 1, 0, 0]
    for r in rows:
        assert r["correct"] == (r["answer"] == 1 - r["real_position"])  # asked for the fake one
        assert r["algorithm"] in ALGOS and r["layout"] == "sequential"
        # measured in the browser by animation frames: never shorter than asked (one frame of
        # tolerance is 6 ms in the component); longer only by dropped frames on a loaded machine
        for shown in (r["display_ms_first"], r["display_ms_second"]):
            assert DISPLAY_MS - 6 <= shown < DISPLAY_MS + 250
        assert r["response_ms"] > 0
    _check_nothing_revealed(rec, path, d)
    ctx.close()

    # the same ID again: refused, nothing new stored
    store = Store(db)
    n_sessions = len(store.session_rows("browser"))
    store.close()
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(f"{server.url}/?pid=B1")
    page.get_by_text("already completed this study").wait_for(timeout=30000)
    assert page.get_by_role("button", name="Start").count() == 0
    assert page.get_by_role("button", name="First", exact=True).count() == 0
    store = Store(db)
    assert len(store.session_rows("browser")) == n_sessions
    store.close()
    assert len(_rows(db, "B1")) == PRACTICE + MAIN
    ctx.close()


def _pngs_in(frame: bytes) -> list[bytes]:
    """Every whole PNG file inside a websocket frame (signature ... IEND chunk)."""
    out, at = [], 0
    while (start := frame.find(b"\x89PNG\r\n\x1a\n", at)) >= 0:
        pos = start + 8
        while pos + 8 <= len(frame):
            (n,) = struct.unpack(">I", frame[pos:pos + 4])
            kind = frame[pos + 4:pos + 8]
            pos += 12 + n
            if kind == b"IEND":
                out.append(frame[start:pos])
                break
        at = pos
    return out


def _check_nothing_revealed(rec: Recorder, path: Path, d: Path) -> None:
    secrets = [*ALGOS, "scene0", "_real_B", "_fake_B", str(d), str(path.parent), "real_position"]
    assert not rec.failures, f"response bodies that could not be read: {rec.failures}"
    pages = [body for url, body in rec.bodies if b"<html" in body.lower()]
    assert pages and all(len(b) > 100 for b in pages), "the app's page itself was not audited"
    assert sum(len(b) for _, b in rec.bodies) > 10_000  # the app's scripts, not just headers
    for url, body in rec.bodies:
        for s in secrets:
            assert s not in url, (s, url)
            assert s.encode() not in body, (s, url)
    trials = 0
    for frame in rec.frames:
        for s in secrets:
            assert s.encode() not in frame, s
        pngs = _pngs_in(frame)
        if pngs:
            assert len(pngs) == 2  # one trial per message: the pair
            a, b = pngs
            assert len(a) == len(b)
            assert png_chunks(a) == png_chunks(b)  # same chunk layout, no metadata chunks
            assert set(png_chunks(a)) == {"IHDR", "IDAT", "IEND"}
            assert a[:33] == b[:33]  # signature and IHDR (size, depth, colour type) identical
            trials += 1
    assert trials >= PRACTICE + MAIN
    # images only inside the trial messages: no media URLs that could name or time them
    assert not [u for u, _ in rec.bodies if re.match(r"https?://[^/]+/media/", u)]


def test_killed_server_restarts_and_participant_resumes(study, browser, tmp_path):
    path, _ = study
    db = f"sqlite:///{tmp_path / 'crash.db'}"
    srv = StudyServer(path, db=db, log=tmp_path / "server.log").start()
    ctx = browser.new_context()
    page = ctx.new_page()
    try:
        page.goto(f"{srv.url}/?pid=K1")
        page.get_by_role("button", name="Start").click()
        for _ in range(PRACTICE):
            _answer(page)
            page.get_by_role("button", name="Continue").click(timeout=30000)
        _answer(page)
        _wait_rows(db, "K1", PRACTICE + 1, page)
        srv.kill()  # SIGKILL mid-study
        before = _rows(db, "K1")
        assert len(before) == PRACTICE + 1
        srv = StudyServer(path, db=db, port=srv.port, log=tmp_path / "server.log").start()
        page.goto(f"{srv.url}/?pid=K1")
        page.get_by_text(f"You continue with trial {PRACTICE + 2}").wait_for(timeout=30000)
        page.get_by_role("button", name="Continue").click()
        for _ in range(MAIN - 1):
            _answer(page)
        page.get_by_text("CODE-B77").wait_for(timeout=30000)
        after = _rows(db, "K1")
        assert [r["trial_index"] for r in after] == list(range(PRACTICE + MAIN))
        assert after[:PRACTICE + 1] == before  # nothing lost or changed by the crash
    finally:
        ctx.close()
        srv.stop()


def test_side_by_side_with_vigilance_and_no_practice(tmp_path, browser):
    path = write_demo_study(tmp_path / "sbs", n_images=3, size=32, practice_trials=0,
                            main_trials=2, vigilance=1, display_ms=DISPLAY_MS, fixation_ms=0,
                            layout="side-by-side", completion_code="SBS-1", name="sbs")
    db = f"sqlite:///{tmp_path / 'sbs.db'}"
    ctx = browser.new_context()
    page = ctx.new_page()
    with StudyServer(path, db=db, log=tmp_path / "server.log") as srv:
        page.goto(f"{srv.url}/?pid=S1")
        page.get_by_role("button", name="Start").click()
        for label in ("Left", "Right", "Left"):
            page.get_by_role("button", name=label, exact=True).click(timeout=30000)
        page.get_by_text("SBS-1").wait_for(timeout=30000)
        assert page.get_by_role("button", name="First", exact=True).count() == 0
    ctx.close()
    store = Store(db)
    rows = store.answer_rows("sbs")
    store.close()
    assert [r["answer"] for r in rows] == [0, 1, 0]
    assert sorted(r["kind"] for r in rows) == ["main", "main", "vigilance"]
    for r in rows:
        assert r["layout"] == "side-by-side"
        assert r["display_ms_first"] == r["display_ms_second"]  # shown together
        assert DISPLAY_MS - 6 <= r["display_ms_first"] < DISPLAY_MS + 250
    vig = next(r for r in rows if r["kind"] == "vigilance")
    assert vig["fake_image"].startswith("noise")


def test_simulated_participant_leaves_the_rows_a_browser_leaves(study, server, browser):
    """One Chromium participant and one protocol-level participant: the same kinds of rows."""
    import asyncio
    from studies.loadclient import participant
    db = server.db
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(f"{server.url}/?pid=V1")
    page.get_by_role("button", name="Start").click()
    for i in range(PRACTICE + MAIN):
        _answer(page, "Second")
        if i < PRACTICE:
            page.get_by_role("button", name="Continue").click(timeout=30000)
    page.get_by_text("CODE-B77").wait_for(timeout=30000)
    ctx.close()
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(1) as pool:  # Playwright's loop runs in this thread
        log = pool.submit(asyncio.run, participant(server.url, "V2", response_ms=50,
                                                   timeout_s=60)).result(timeout=120)
    assert log.completed and not log.error and "CODE-B77" in log.code
    real, sim = _wait_rows(db, "V1", PRACTICE + MAIN, page), _rows(db, "V2")
    assert len(sim) == len(real) == PRACTICE + MAIN

    def kinds(row):  # column -> type of the stored value (None for NULL)
        return {k: type(v).__name__ for k, v in row.items()}

    assert [kinds(r) for r in sim] == [kinds(r) for r in real]
    for col in ("trial_index", "kind", "layout", "ask"):
        assert [r[col] for r in sim] == [r[col] for r in real]
    for rows in (real, sim):
        for r in rows:  # the same server-side scoring and the same measured fields
            assert r["correct"] == (r["answer"] == 1 - r["real_position"])
            assert DISPLAY_MS - 6 <= r["display_ms_first"] < DISPLAY_MS + 250
            assert r["response_ms"] >= 0 and r["shown_at"] <= r["answered_at"]
