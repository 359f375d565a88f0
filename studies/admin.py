"""The admin page (``?admin``): progress per algorithm, live results, CSV export, behind a token.

The token comes from the environment (``P2PEVAL_STUDY_ADMIN_TOKEN``) or the study file
(``admin_token``); without one the page stays closed. Tokens are compared in constant time, and
every wrong token makes the server wait before it answers, longer the more wrong tokens it saw in
the last ten minutes (from any page of this server process), so guessing is slow.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import deque


class Throttle:
    """Delay after a wrong token: ``base_s * 2**(k-1)`` for the k-th failure within ``window_s``,
    at most ``max_s``."""

    def __init__(self, base_s: float = 0.5, max_s: float = 10.0, window_s: float = 600.0,
                 clock=time.monotonic):
        self.base_s, self.max_s, self.window_s, self.clock = base_s, max_s, window_s, clock
        self._failures: deque[float] = deque(maxlen=1000)
        self._lock = threading.Lock()

    def failed(self) -> float:
        """Record a wrong token; returns how long to wait before answering."""
        now = self.clock()
        with self._lock:
            while self._failures and self._failures[0] < now - self.window_s:
                self._failures.popleft()
            self._failures.append(now)
            k = len(self._failures)
        return min(self.max_s, self.base_s * 2 ** min(k - 1, 30))


THROTTLE = Throttle()
_sleep = time.sleep  # (replaced in tests)


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
                _sleep(THROTTLE.failed())
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
