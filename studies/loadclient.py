"""A simulated participant: does over the websocket exactly what the study page does in a browser.

Open ``/?pid=ID``, press Start, then for every trial wait the trial's own display schedule
(fixation, first image, gap, second image; the waits are measured and sent as the display times,
as the page sends its animation-frame measurements), wait a response time, send the component's
answer event ``{trial, choice, display_ms, gap_ms, response_ms}``, press Continue after practice
feedback, and read the completion code. Every wait and loop is bounded.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from studies.wsclient import (ProtocolError, Run, StreamlitClient, button, component_data,
                              component_event)

COMPONENT = "bidi_component"


@dataclass
class ParticipantLog:
    """What one simulated participant measured."""

    pid: str
    answers_sent: list[float] = field(default_factory=list)      # epoch s, one per trial in order
    to_next_trial_ms: list[float] = field(default_factory=list)   # main answer -> next trial msg
    to_response_ms: list[float] = field(default_factory=list)     # any answer -> first reply msg
    completed: bool = False
    code: str = ""
    reconnects: int = 0
    error: str = ""
    bytes_received: int = 0


def _trial(run: Run):
    return run.find(COMPONENT)


async def _act(client: StreamlitClient, log: ParticipantLog, widgets=None,
               retries: int = 3) -> tuple[Run, float]:
    """One page action; a dropped connection is resumed and the action sent again (bounded).

    Sending an answer again is safe: the server keeps one answer per trial and accepts an answer
    only with the current trial's token.
    """
    import websockets
    for attempt in range(retries + 1):
        try:
            run, sent = await client.rerun(widgets)
            log.bytes_received += run.bytes_received
            return run, sent
        except (websockets.ConnectionClosed, OSError):
            if attempt == retries:
                raise
            await asyncio.sleep(0.2 * (attempt + 1))
            await client.connect(resume=True)
            log.reconnects += 1
    raise AssertionError("unreachable")


async def _wait(ms: float) -> float:
    """Sleep ``ms`` and return the measured duration in ms (what the page's frame timing gives)."""
    if ms <= 0:
        return 0.0
    t0 = time.perf_counter()
    await asyncio.sleep(ms / 1000)
    return (time.perf_counter() - t0) * 1000


async def participant(url: str, pid: str, *, response_ms: float = 300.0, choice_seed: int = 0,
                      max_steps: int = 10_000, timeout_s: float = 60.0) -> ParticipantLog:
    """Run one participant from the participant-ID URL to the completion code."""
    log = ParticipantLog(pid)
    client = StreamlitClient(url, f"pid={pid}", timeout_s=timeout_s)
    try:
        await client.connect()
        run, _ = await _act(client, log)
        start = run.find("button", "Start") or run.find("button", "Continue")
        if start is None:
            raise ProtocolError(f"{pid}: no Start button on the first page")
        run, _ = await _act(client, log, [button(start)])
        for step in range(max_steps):
            el = _trial(run)
            if el is None:
                cont = run.find("button", "Continue")
                if cont is not None:  # practice feedback
                    run, _ = await _act(client, log, [button(cont)])
                    continue
                text = run.texts()
                if "completion code" in text or "completed the study" in text:
                    log.completed = True
                    log.code = next((e.proto.body for e in run.elements if e.kind == "markdown"
                                     and "completion code" in e.proto.body), "")
                    break
                raise ProtocolError(f"{pid}: page with neither a trial nor a button: {text[:200]!r}")
            data = component_data(el)
            await _wait(data["fixation_ms"])
            first = await _wait(data["display_ms"])
            if data["layout"] == "sequential":
                gap = await _wait(data["gap_ms"])
                second = await _wait(data["display_ms"])
            else:
                gap, second = None, first
            rt = await _wait(response_ms)
            choice = (sum(map(ord, pid)) + choice_seed + step) % 2
            value = {"trial": data["trial"], "choice": choice, "display_ms": [first, second],
                     "gap_ms": gap, "response_ms": rt}
            log.answers_sent.append(time.time())
            run, sent = await _act(client, log, [component_event(el, "answer", value)])
            if run.elements:
                log.to_response_ms.append((run.elements[0].received - sent) * 1000)
            nxt = _trial(run)
            if nxt is not None:
                log.to_next_trial_ms.append((nxt.received - sent) * 1000)
        else:
            raise ProtocolError(f"{pid}: not finished after {max_steps} steps")
    except Exception as e:  # recorded, counted as an error of the run
        log.error = f"{type(e).__name__}: {e}"[:300]
    finally:
        try:
            await client.close()
        except Exception:
            pass
    return log

