"""The trial component: a Streamlit custom component (v2) that shows and times one trial.

Its data is one binary message (``pack``): a 4-byte big-endian length, that many bytes of UTF-8
JSON (the trial's settings and the byte length of each image), then the images' PNG bytes. Top-level
bytes reach the page as a ``Uint8Array`` untouched, so the images travel without base64 and
without Streamlit encoding them as JSON twice per trial (once to send, once for the element's
identity), which was the largest part of the server's work per answer.
"""

from __future__ import annotations

import json
import struct
from functools import lru_cache
from pathlib import Path

_HERE = Path(__file__).parent


@lru_cache(maxsize=1)
def _sources() -> tuple[str, str]:
    return ((_HERE / "trial_component.js").read_text(), (_HERE / "trial_component.css").read_text())


def trial_component():
    """The component's mount function (registering it again on every run is cheap)."""
    import streamlit as st
    js, css = _sources()
    return st.components.v2.component("p2peval_trial", js=js, css=css)


def pack(meta: dict, images: list[bytes]) -> bytes:
    """The component's data: JSON settings plus the raw image bytes (see the module docstring)."""
    head = json.dumps({**meta, "image_bytes": [len(b) for b in images]}).encode()
    return b"".join([struct.pack(">I", len(head)), head, *images])


def unpack(blob: bytes) -> tuple[dict, list[bytes]]:
    """Inverse of ``pack``: (settings, images)."""
    (n,) = struct.unpack_from(">I", blob)
    meta = json.loads(blob[4:4 + n])
    images, at = [], 4 + n
    for size in meta.pop("image_bytes"):
        images.append(bytes(blob[at:at + size]))
        at += size
    if at != len(blob):
        raise ValueError("trial data: trailing bytes")
    return meta, images
