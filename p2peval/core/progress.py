"""Progress reporting: a tqdm bar on a terminal, plain lines otherwise (logs, CI)."""

from __future__ import annotations

import sys
import time
from typing import Iterable, TypeVar

T = TypeVar("T")


class _PlainProgress:
    """Prints ``desc: i/total (rate/s)`` lines at most every ``interval`` seconds."""

    def __init__(self, iterable, total, desc, unit, interval, stream):
        self.iterable, self.total, self.desc, self.unit = iterable, total, desc, unit
        self.interval, self.stream = interval, stream
        self.n = 0
        self.postfix = ""
        self._start = self._last = time.monotonic()

    def __iter__(self):
        for item in self.iterable:
            yield item
            self.update(1)
        self.close()

    def update(self, k: int = 1) -> None:
        self.n += k
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self._print(now)

    def set_postfix_str(self, s: str) -> None:
        self.postfix = s

    def _print(self, now: float) -> None:
        rate = self.n / max(now - self._start, 1e-9)
        tot = f"/{self.total}" if self.total is not None else ""
        extra = f" {self.postfix}" if self.postfix else ""
        print(f"{self.desc}: {self.n}{tot} {self.unit} ({rate:.2f} {self.unit}/s){extra}",
              file=self.stream, flush=True)

    def close(self) -> None:
        if self.n:
            self._print(time.monotonic())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def progress(iterable: Iterable[T] | None = None, total: int | None = None, desc: str = "",
             unit: str = "it", interval: float = 10.0, disable: bool = False):
    """A progress wrapper: iterate over it, or call ``.update(k)``; ``with`` closes it."""
    stream = sys.stderr
    if disable:
        from tqdm import tqdm
        return tqdm(iterable, total=total, disable=True)
    if stream.isatty():
        from tqdm import tqdm
        return tqdm(iterable, total=total, desc=desc, unit=unit, dynamic_ncols=True, file=stream)
    return _PlainProgress(iterable if iterable is not None else (), total, desc, unit, interval, stream)
