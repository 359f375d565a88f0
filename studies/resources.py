"""The study's settings, checked image pools and database handle, shared by all sessions of a server.

Defined here, in an imported module, rather than inside the app script: the script is executed
afresh on every run, and a cached function defined in it would be decorated (and its identity
worked out) again on every answer.
"""

from __future__ import annotations

import streamlit as st


@st.cache_resource(show_spinner=False)
def load(study_path: str, db_url: str):
    """(config, material, store) of a study file; one per server process and (file, database)."""
    from studies.config import load_study
    from studies.protocol import load_material
    from studies.storage import Store
    config = load_study(study_path)
    return config, load_material(config), Store(db_url or config.database_url())
