"""Load run: many participants at once complete a study against one server.

``--client protocol`` (studies/protocol_load.py): simulated participants speak Streamlit's
websocket protocol directly, so the run measures the server, not browsers sharing its CPU.
``--client browser`` (the default, below): real pages in headless Chromium, for realism checks.

Every browser participant is a separate browser context (own cookies and websocket) in one headless
Chromium, driven concurrently. Measured in the browser: the time from an answer click
(``performance.mark('p2p-answer')``) to the next trial being ready, i.e. both of its images decoded
(``performance.mark('p2p-trial-ready')``). Afterwards the database must hold exactly one row per
trial per participant.

    python -m studies.loadtest --participants 20 --out results/benchmarks/study_load.json
    python -m studies.loadtest --client protocol --participants 100 [--db URL] --out FILE.json
"""

from __future__ import annotations

from p2peval.commands import nonneg_float, nonneg_int, positive_int

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]

_LATENCY_JS = """() => {
  const a = performance.getEntriesByName('p2p-answer').map(e => e.startTime);
  const r = performance.getEntriesByName('p2p-trial-ready').map(e => e.startTime);
  return {answers: a, ready: r, origin: performance.timeOrigin};
}"""


def answer_to_ready_ms(answers: list[float], ready: list[float]) -> list[float]:
    """For each answer mark, the delay to the first trial-ready mark after it (if any)."""
    out = []
    for t in answers:
        later = [r for r in ready if r > t]
        if later:
            out.append(min(later) - t)
    return out


async def _participant(browser, url: str, pid: str, n_trials: int, labels: tuple[str, str],
                       practice: int, timeout_ms: float) -> list[float]:
    context = await browser.new_context()
    page = await context.new_page()
    try:
        await page.goto(f"{url}/?pid={pid}", timeout=timeout_ms)
        await page.get_by_role("button", name="Start").click(timeout=timeout_ms)
        for i in range(n_trials):
            choice = labels[(sum(map(ord, pid)) + i) % 2]
            await page.get_by_role("button", name=choice, exact=True).click(timeout=timeout_ms)
            if i < practice:
                await page.get_by_role("button", name="Continue").click(timeout=timeout_ms)
        await page.get_by_text("completion code").wait_for(timeout=timeout_ms)
        marks = await page.evaluate(_LATENCY_JS)
    except Exception:
        if os.environ.get("P2PEVAL_LOAD_DEBUG"):
            await page.screenshot(path=f"{os.environ['P2PEVAL_LOAD_DEBUG']}/{pid}.png")
            Path(f"{os.environ['P2PEVAL_LOAD_DEBUG']}/{pid}.html").write_text(await page.content())
        raise
    finally:
        await context.close()
    marks["pid"] = pid
    return marks


async def _run_all(url: str, n: int, n_trials: int, labels, practice: int, timeout_ms: float):
    from playwright.async_api import async_playwright
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                          args=CHROMIUM_ARGS)
        try:
            return await asyncio.gather(*[
                _participant(browser, url, f"load{k:03d}", n_trials, labels, practice, timeout_ms)
                for k in range(n)])
        finally:
            await browser.close()


def _summary(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "median": None, "p95": None, "max": None}
    return {"n": len(values), "median": statistics.median(values), "p95": percentile(values, 95),
            "max": max(values)}


def _epoch_ms(t) -> float:
    import datetime as dt
    if t.tzinfo is None:  # SQLite returns the stored UTC time without its zone
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.timestamp() * 1000


def _split(marks: list[dict], rows: list[dict], practice: int) -> tuple[list[float], list[float]]:
    """Per main answer: click -> committed, and committed -> next trial ready (epoch ms)."""
    stored = {(r["participant"], r["trial_index"]): _epoch_ms(r["answered_at"]) for r in rows}
    to_store, to_ready = [], []
    for m in marks:
        clicks = [m["origin"] + t for t in m["answers"]]
        ready = [m["origin"] + t for t in m["ready"]]
        for i, click in enumerate(clicks):
            if i < practice or (m["pid"], i) not in stored:
                continue
            t_stored = stored[(m["pid"], i)]
            to_store.append(t_stored - click)
            later = [r for r in ready if r > click]
            if later:
                to_ready.append(min(later) - t_stored)
    return to_store, to_ready


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default rule), q in [0, 100]."""
    import numpy as np
    return float(np.percentile(np.asarray(values, dtype=float), q))


def run_load(participants: int = 20, *, workdir: str | Path | None = None, main_trials: int = 6,
             practice_trials: int = 1, display_ms: int = 50, size: int = 128,
             timeout_s: float = 120) -> dict:
    """Run the load scenario; returns the measurements and the database checks."""
    from studies.demo import write_demo_study
    from studies.server import StudyServer
    from studies.storage import Store

    work = Path(workdir or tempfile.mkdtemp(prefix="study-load-"))
    study = write_demo_study(work / "study", n_images=practice_trials + main_trials + 2, size=size,
                             name="load", practice_trials=practice_trials, main_trials=main_trials,
                             display_ms=display_ms, gap_ms=display_ms, fixation_ms=0,
                             completion_code="LOAD-DONE")
    db = f"sqlite:///{work / 'load.db'}"
    n_trials = practice_trials + main_trials
    with StudyServer(study, db=db, log=work / "server.log") as server:
        cpu0 = server.cpu_seconds()
        t0 = time.perf_counter()
        latencies = asyncio.run(_run_all(server.url, participants, n_trials, ("First", "Second"),
                                         practice_trials, timeout_s * 1000))
        wall = time.perf_counter() - t0
        server_cpu = server.cpu_seconds() - cpu0
    store = Store(db)
    rows = store.answer_rows("load")
    sessions = store.session_rows("load")
    store.close()
    keys = [(r["participant"], r["trial_index"]) for r in rows]
    # Practice answers wait for a Continue click before the next trial: main trials only.
    flat = [x for m in latencies for x in answer_to_ready_ms(m["answers"][practice_trials:],
                                                             m["ready"])]
    to_store, store_to_ready = _split(latencies, rows, practice_trials)
    return {
        "participants": participants, "trials_per_participant": n_trials,
        "display_ms": display_ms, "image_size": size,
        "answers_stored": len(rows), "answers_expected": participants * n_trials,
        "duplicate_answers": len(keys) - len(set(keys)),
        "sessions": len(sessions), "sessions_finished": sum(s["finished_at"] is not None
                                                            for s in sessions),
        "answer_to_next_trial_ready_ms": {
            "n": len(flat), "median": statistics.median(flat) if flat else None,
            "p95": percentile(flat, 95) if flat else None, "max": max(flat) if flat else None},
        # the same interval split at the moment the answer was committed (server clock = browser
        # clock here: one machine): click -> stored, and stored -> next trial ready
        "answer_to_stored_ms": _summary(to_store),
        "stored_to_next_trial_ready_ms": _summary(store_to_ready),
        "wall_s": wall,
        # CPU time of the server's processes during the run (page loads included): what serving
        # cost, apart from the browsers and everything else on the machine
        "server_cpu_s": server_cpu,
        "load_average_1min_after": os.getloadavg()[0],
        "server_cpu_ms_per_answer_incl_page_loads": 1000 * server_cpu / max(len(rows), 1),
    }


def _protocol_main(args, argv) -> int:
    from studies.protocol_load import run_protocol_load
    result = run_protocol_load(args.participants, db=args.db, servers=args.servers,
                               ramp_s=args.ramp_s, response_ms=args.response_ms,
                               image_size=args.image_size, main_trials=args.main_trials or 6,
                               practice_trials=args.practice_trials,
                               display_ms=args.display_ms or 1000)
    result.update(_provenance(argv))
    print(json.dumps(result, indent=2))
    if args.out:
        from p2peval.core.atomic import write_json_atomic
        write_json_atomic(args.out, result)
    ok = not result["answers_lost"] and not result["answers_duplicated"] and not result["errors"]
    return 0 if ok else 1


def _provenance(argv) -> dict:
    return {"command": "python -m studies.loadtest " + " ".join(argv if argv is not None
                                                                 else sys.argv[1:]),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores "
                       "(shared with other jobs while measured)",
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def _check_args(args) -> None:
    from p2peval.core.errors import ConfigError
    if not 1 <= args.participants <= 2000:
        raise ConfigError(f"--participants must be in 1..2000, got {args.participants}")
    if not 1 <= args.servers <= 8:
        raise ConfigError(f"--servers must be in 1..8, got {args.servers}")
    if args.client == "browser" and (args.db or args.servers != 1):
        raise ConfigError("--db and --servers need --client protocol")
    if args.db and not args.db.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
        raise ConfigError(f"--db must be a sqlite:/// or postgresql:// URL, got {args.db!r}")
    if args.db and args.db.startswith("postgresql"):
        from studies.wsclient import LOOPBACK
        from urllib.parse import urlsplit
        host = urlsplit(args.db).hostname
        if host not in LOOPBACK:
            raise ConfigError(f"--db: only a database on this machine (127.0.0.1), got {host!r}")
    if args.ramp_s < 0 or args.response_ms < 0:
        raise ConfigError("--ramp-s and --response-ms must not be negative")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m studies.loadtest", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--client", choices=("browser", "protocol"), default="browser",
                    help="real Chromium pages, or simulated participants over the websocket")
    ap.add_argument("--participants", type=positive_int, default=20)
    ap.add_argument("--main-trials", type=positive_int, default=None, help="default 6")
    ap.add_argument("--practice-trials", type=nonneg_int, default=1)
    ap.add_argument("--display-ms", type=nonneg_int, default=None,
                    help="default 50 (browser), 1000 (protocol: the reference pace)")
    ap.add_argument("--size", type=positive_int, default=128, help="browser mode: stimulus size")
    ap.add_argument("--image-size", type=positive_int, default=256, help="protocol mode: stimulus size")
    ap.add_argument("--db", default=None, help="protocol mode: database URL (default: a new "
                                                "SQLite file)")
    ap.add_argument("--servers", type=positive_int, default=1,
                    help="protocol mode: study servers on the one database (round robin)")
    ap.add_argument("--ramp-s", type=nonneg_float, default=1.0,
                    help="protocol mode: arrivals spread over this many seconds")
    ap.add_argument("--response-ms", type=nonneg_float, default=700.0,
                    help="protocol mode: a participant's time to answer after the display")
    ap.add_argument("--out", default=None, help="JSON file to write (e.g. results/benchmarks/study_load.json)")
    ap.add_argument("--no-baseline", action="store_true",
                    help="skip the single-participant run measured first for comparison")
    args = ap.parse_args(argv)
    _check_args(args)
    if args.client == "protocol":
        return _protocol_main(args, argv)
    args.main_trials = args.main_trials or 6
    args.display_ms = args.display_ms or 50
    kw = dict(main_trials=args.main_trials, display_ms=args.display_ms, size=args.size)
    baseline = None if args.no_baseline else run_load(1, **kw)["answer_to_next_trial_ready_ms"]
    result = run_load(args.participants, **kw)
    result["single_participant_answer_to_next_trial_ready_ms"] = baseline
    result.update(_provenance(argv))
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        from p2peval.core.atomic import write_json_atomic
        write_json_atomic(args.out, result)
    ok = result["answers_stored"] == result["answers_expected"] and not result["duplicate_answers"]
    return 0 if ok else 1


if __name__ == "__main__":
    from p2peval.core.errors import P2PError
    try:
        sys.exit(main())
    except P2PError as e:
        print(f"python -m studies.loadtest: error: {e}", file=sys.stderr)
        sys.exit(2)
