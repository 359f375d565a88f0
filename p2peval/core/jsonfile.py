"""Reading the small JSON files p2peval and its trainers write (manifests, run configs): one
object per file, and every failure as one line naming the file."""

from __future__ import annotations

import json
from pathlib import Path

from p2peval.core.errors import InputError


def read_json_object(path: str | Path, what: str) -> dict:
    """The JSON object in ``path``; ``what`` names the file in errors ("manifest", "config")."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"unreadable {what} ({e})", path) from None
    if not isinstance(obj, dict):
        raise InputError(f"{what} is not a JSON object", path)
    return obj
