"""Resumable chains of steps: each step says what it makes, whether that is already made and how
to make it; a rerun skips the finished steps. Used by ``trainers.reproduce`` and ``trainers.demo``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Step:
    """One step of a chain: what it makes and the command that makes it on its own."""

    name: str
    outputs: list[str]
    command: str
    done: Callable[[], bool]
    run: Callable[[], None]
    seconds: float | None = None
    skipped: bool = False


def run_steps(steps: list[Step], *, previous: dict | None = None,
              log: Callable[[str], None] = print,
              on_step: Callable[[dict], None] | None = None) -> dict[str, dict]:
    """Run every step whose ``done()`` is false, in order; a finished step is skipped and keeps
    the time recorded for it in ``previous`` (the record of the run that made it).

    Returns ``{step name: {"outputs", "command", "skipped", "seconds"}}``; ``on_step`` gets that
    record after each step (to save it, so an interrupted chain leaves its log behind).
    """
    previous = previous or {}
    record: dict[str, dict] = {}
    for i, s in enumerate(steps, 1):
        if s.done():
            s.skipped = True
            s.seconds = (previous.get(s.name) or {}).get("seconds")
            log(f"[{i}/{len(steps)}] {s.name}: done, skipped")
        else:
            log(f"[{i}/{len(steps)}] {s.name}")
            t = time.monotonic()
            s.run()
            s.seconds = time.monotonic() - t
        record[s.name] = {"outputs": s.outputs, "command": s.command, "skipped": s.skipped,
                          "seconds": None if s.seconds is None else round(s.seconds, 3)}
        if on_step is not None:
            on_step(record)
    return record


def score_complete(path: Path) -> bool:
    """A score file exists and reads as one (an interrupted write leaves none)."""
    from p2peval.core.errors import InputError
    from p2peval.report.scorefile import read_score

    if not path.is_file():
        return False
    try:
        read_score(path)
    except InputError:
        return False
    return True


def scorer_finished(path: Path) -> bool:
    """A scorer checkpoint is also written during training: finished only when it says so."""
    from p2peval.core.errors import InputError
    from p2peval.scorers.checkpoint import read_checkpoint

    if not path.is_file():
        return False
    try:
        return bool((read_checkpoint(path).get("training") or {}).get("finished"))
    except InputError:
        return False
