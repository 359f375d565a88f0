"""The trial component: a Streamlit custom component (v2) that shows and times one trial."""

from __future__ import annotations

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
