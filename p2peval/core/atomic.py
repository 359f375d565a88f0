"""Atomic file writes: a temporary file beside the target, renamed over it once complete.

An interrupted write never leaves a truncated file, and an existing file is replaced only by a
complete one (``os.replace`` is atomic on POSIX within one file system). Every writer of outputs
that a rerun or a reader may trust (scores, checkpoints, partial states, images, tables) goes
through here.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def temporary_sibling(path: Path, suffix: str = "") -> Path:
    """``.<name>.tmp<pid><suffix>`` beside ``path`` (hidden; the suffix keeps writers such as
    ``numpy.savez`` from appending their own extension)."""
    return path.with_name(f".{path.name}.tmp{os.getpid()}{suffix}")


@contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path, suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json_atomic(path: str | Path, obj) -> Path:
    """JSON (indented, strict: NaN and infinity are refused) written atomically."""
    return write_text_atomic(path, json.dumps(obj, indent=2, allow_nan=False) + "\n")
