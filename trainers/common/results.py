"""Results folders (PNG images named by input id + ``manifest.json``) as the translators write them."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from p2peval.core.errors import ConfigError


def refuse_foreign_images(out: Path, ours: Iterable[str]) -> None:
    """A results folder is scored as a whole: refuse to mix in images of another run."""
    from p2peval.core.imageio import list_images
    if not out.is_dir():
        return
    ours = set(ours)
    other = [p.name for p in list_images(out) if p.name not in ours]
    if other:
        raise ConfigError(f"{out}: results folder already holds {len(other)} other images (e.g. {other[0]}); "
                          "scorers read the whole folder, so use an empty or new --out")
