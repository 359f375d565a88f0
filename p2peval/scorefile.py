"""Score files (DESIGN.md contract 2): one JSON object per evaluation.

Every score file has ``schema``, ``metric``, ``values`` (headline numbers), ``higher_is_better``,
``ci`` (confidence intervals and their settings), ``per_class`` where it exists, ``counts``,
``protocol`` (name and all settings), ``scorer`` (fingerprint), ``inputs`` (paths, file count,
hash of the file list), plus ``label`` (row name for tables), ``command`` and ``created``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Iterable

from p2peval.errors import InputError

SCHEMA = "p2peval.score/1"
REQUIRED = ("schema", "metric", "values", "higher_is_better", "counts", "inputs")


def file_list_hash(names: Iterable[str]) -> str:
    """sha256 of the sorted file names, newline-separated: identifies the set of inputs."""
    h = hashlib.sha256()
    for name in sorted(names):
        h.update(name.encode("utf-8") + b"\n")
    return h.hexdigest()


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def make_score(metric: str, values: dict, higher_is_better: dict, *, counts: dict, inputs: dict,
               ci: dict | None = None, per_class: dict | None = None, protocol: dict | None = None,
               scorer: dict | None = None, label: str | None = None, **extra) -> dict:
    """Assemble a score object with the contract's fields (``extra`` keys are kept as given)."""
    from p2peval import __version__

    obj = {
        "schema": SCHEMA,
        "metric": metric,
        "label": label,
        "values": values,
        "higher_is_better": higher_is_better,
        "ci": ci or {},
        "per_class": per_class,
        "counts": counts,
        "protocol": protocol,
        "scorer": scorer,
        "inputs": inputs,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["p2peval", *sys.argv[1:]]) if sys.argv else None,
        "p2peval_version": __version__,
    }
    obj.update(extra)
    return obj


def write_json_atomic(path: str | Path, obj) -> Path:
    """Write JSON via a temporary file and rename, so an interrupted write never leaves a
    truncated file and an existing file is replaced only by a complete one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=False, allow_nan=False)
        f.write("\n")
    os.replace(tmp, path)
    return path


def write_score(path: str | Path, score: dict) -> Path:
    return write_json_atomic(path, score)


def read_score(path: str | Path) -> dict:
    """Read and validate a score file; one clear error naming the file otherwise."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError("no such score file", path) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"not a JSON score file ({e})", path) from None
    if not isinstance(obj, dict) or not str(obj.get("schema", "")).startswith("p2peval.score/"):
        raise InputError("not a p2peval score file (no 'schema': 'p2peval.score/...')", path)
    missing = [k for k in REQUIRED if k not in obj]
    if missing:
        raise InputError(f"score file lacks {', '.join(missing)}", path)
    return obj
