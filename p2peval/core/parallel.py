"""Process-parallel maps that stop cleanly on the first error.

``multiprocessing.Pool`` queues every task up front; when a worker error stops the consumer,
``Pool.terminate`` can hang while the pool's task thread is blocked writing to a full pipe. Here
at most ``2 * workers`` tasks are in flight, and shutting down cancels the rest.
"""

from __future__ import annotations

import multiprocessing as mp
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def default_start_method() -> str:
    """``fork`` where available (fast start, for code that has not initialised threads), else ``spawn``."""
    return "fork" if "fork" in mp.get_all_start_methods() else "spawn"


def process_map(func: Callable[[T], R], tasks: Iterable[T], workers: int,
                start_method: str = "spawn") -> Iterator[R]:
    """Yield ``func(task)`` in task order; ``workers <= 1`` runs here, in this process.

    An exception raised by ``func`` in a worker is re-raised here, after the workers stopped.
    """
    if workers <= 1:
        yield from map(func, tasks)
        return
    pool = ProcessPoolExecutor(workers, mp_context=mp.get_context(start_method))
    try:
        pending: deque = deque()
        todo = iter(tasks)
        for task in todo:
            pending.append(pool.submit(func, task))
            if len(pending) >= 2 * workers:
                break
        while pending:
            result = pending.popleft().result()
            for task in todo:  # refill one
                pending.append(pool.submit(func, task))
                break
            yield result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
