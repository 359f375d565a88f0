"""Score files (docs/architecture.md contract 2): one JSON object per evaluation.

Every score file has ``schema``, ``metric``, ``values`` (headline numbers), ``higher_is_better``,
``ci`` (confidence intervals and their settings), ``per_class`` where it exists, ``counts``,
``protocol`` (name and all settings), ``scorer`` (fingerprint), ``inputs`` (paths, file count,
hash of the file list), plus ``label`` (row name for tables), ``command`` and ``created``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import sys
from pathlib import Path
from typing import Iterable

from p2peval.core.atomic import atomic_path, write_json_atomic
from p2peval.core.errors import InputError

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


def sidecar_path(path: str | Path) -> Path:
    """The per-image sidecar of a score file: ``<stem>.frames.npz`` beside it."""
    path = Path(path)
    return path.with_name(path.stem + ".frames.npz")


def write_score(path: str | Path, score: dict) -> Path:
    """Write a score file atomically.

    Per-image data given as numpy arrays under ``frames`` (for paired significance tests in
    tables: per-frame confusion matrices, per-image histograms) goes to the sidecar
    ``<stem>.frames.npz``, named by the ``frames_file`` key; the JSON stays small.
    """
    import numpy as np

    path = Path(path)
    frames = score.get("frames")
    if isinstance(frames, dict) and any(isinstance(v, np.ndarray) for v in frames.values()):
        side = sidecar_path(path)
        with atomic_path(side, ".npz") as tmp:
            np.savez_compressed(tmp, **{k: np.asarray(v) for k, v in frames.items()})
        score = {k: v for k, v in score.items() if k != "frames"}
        score["frames_file"] = side.name
    return write_json_atomic(path, score)


def copy_score(src: str | Path, dst: str | Path, **updates) -> Path:
    """Copy a score file (and its per-image sidecar) to ``dst`` with some keys replaced."""
    import shutil

    src, dst = Path(src), Path(dst)
    score = read_score(src)
    score.update(updates)
    if score.get("frames_file"):
        side = src.parent / score["frames_file"]
        if not side.exists():
            raise InputError("per-image file named by 'frames_file' is missing", side)
        new_side = sidecar_path(dst)
        with atomic_path(new_side) as tmp:
            shutil.copyfile(side, tmp)
        score["frames_file"] = new_side.name
    return write_json_atomic(dst, score)


def read_sidecar(score: dict, score_path: str | Path | None) -> dict | None:
    """The per-image data of a score: inline under ``frames``, or the sidecar named by
    ``frames_file`` (relative to the score file); None when it has neither."""
    import numpy as np

    if isinstance(score.get("frames"), dict):
        return {k: np.asarray(v) for k, v in score["frames"].items()}
    name = score.get("frames_file")
    if not name or score_path is None:
        return None
    side = Path(score_path).parent / name
    try:
        with np.load(side, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise InputError("per-image file named by 'frames_file' is missing", side) from None
    except (OSError, ValueError) as e:
        raise InputError(f"unreadable per-image file ({e})", side) from None


def json_safe(score: dict) -> dict:
    """The score without in-memory per-image arrays (for printing as JSON)."""
    return {k: v for k, v in score.items() if k != "frames"}


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
