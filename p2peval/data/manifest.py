"""The ``manifest.json`` of a results folder (docs/architecture.md contract 1) and the row label it gives."""

from __future__ import annotations

import json
from pathlib import Path

from p2peval.core.errors import InputError

LABEL_KEYS = ("label", "name", "variant")


def read_manifest(folder: str | Path) -> dict | None:
    """The folder's manifest, or None when it has none; a malformed one is refused."""
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        return None
    try:
        obj = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"unreadable manifest ({e})", path) from None
    if not isinstance(obj, dict):
        raise InputError("manifest is not a JSON object", path)
    return obj


def manifest_label(manifest: dict | None) -> str | None:
    """A row label from a manifest: its label, name or variant, else its config's name."""
    if not isinstance(manifest, dict):
        return None
    for key in LABEL_KEYS:
        if isinstance(manifest.get(key), str) and manifest[key]:
            return manifest[key]
    cfg = manifest.get("config")
    if isinstance(cfg, dict) and cfg.get("name"):
        return str(cfg["name"])
    return None


def folder_label(folder: str | Path, manifest: dict | None = None) -> str:
    """Row label of a results folder: its manifest's label, else the folder name."""
    folder = Path(folder)
    if manifest is None:
        manifest = read_manifest(folder)
    return manifest_label(manifest) or folder.resolve().name
