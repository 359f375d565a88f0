"""The admin page (``?admin``): progress per algorithm, live results, CSV export, behind a token.

The token comes from the environment (``P2PEVAL_STUDY_ADMIN_TOKEN``) or the study file
(``admin_token``); without one the page stays closed.
"""

from __future__ import annotations

import hmac


def check_token(expected: str, given: str) -> bool:
    """Constant-time comparison; an empty expected token never matches."""
    return bool(expected) and hmac.compare_digest(expected.encode(), given.encode())


def progress_table(config, store) -> list[dict]:
    counts = store.session_counts(config.name)
    rows = []
    for algo in config.algorithms:
        done, running = counts.get(algo, (0, 0))
        rows.append({"algorithm": algo, "completed sessions": done, "in progress": running})
    return rows


def render_admin(config, store) -> None:
    import streamlit as st

    from studies.analysis import METRIC, analyze
    from studies.export import answers_csv

    st.title(f"{config.title}: admin")
    expected = config.token()
    if not expected:
        st.error("The admin page is disabled: set P2PEVAL_STUDY_ADMIN_TOKEN or admin_token in the "
                 "study file.")
        return
    if not st.session_state.get("admin_ok"):
        with st.form("admin-login"):
            token = st.text_input("Admin token", type="password")
            if st.form_submit_button("Open"):
                if check_token(expected, token):
                    st.session_state["admin_ok"] = True
                    st.rerun()
                st.error("Wrong token.")
        return
    st.subheader("Progress")
    st.dataframe(progress_table(config, store), hide_index=True)
    rows = store.answer_rows(config.name)
    st.caption(f"{len(rows)} answers stored")
    if rows:
        st.subheader("Live results (% labeled real, main trials)")
        score = analyze(rows, source="database", study=config.name,
                        max_vigilance_failures=config.vigilance.max_failures, n_resamples=1000,
                        permutations=1000)
        table = []
        for r in score["rows"]:
            v = r["values"][METRIC]
            table.append({"algorithm": r["label"], "% labeled real": v,
                          "SE": r["ci"][METRIC + "_se"], "participants": r["counts"]["participants"],
                          "excluded": r["counts"]["excluded_participants_vigilance"]})
        st.dataframe(table, hide_index=True)
        st.download_button("Export answers (CSV)", answers_csv(rows),
                           file_name=f"{config.name}-answers.csv", mime="text/csv")
    st.button("Refresh")
