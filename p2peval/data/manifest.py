"""The ``manifest.json`` of a results folder (docs/architecture.md contract 1) and the row label it gives."""

from __future__ import annotations

from pathlib import Path

from p2peval.core.jsonfile import read_json_object

LABEL_KEYS = ("label", "name", "variant")


def read_manifest(folder: str | Path) -> dict | None:
    """The folder's manifest, or None when it has none; a malformed one is refused."""
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        return None
    return read_json_object(path, "manifest")


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
