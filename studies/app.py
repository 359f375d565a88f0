"""The participant's side of a study: a Streamlit script (``p2peval study serve`` runs it).

Pages, decided afresh on every run from the database, so a reload or reconnect lands where the
participant was: participant ID -> consent and instructions -> practice trials with feedback ->
main trials -> completion code. ``?admin`` opens the admin page instead (studies/admin.py).

The study file and database come from the environment (``P2PEVAL_STUDY``, ``P2PEVAL_STUDY_DB``),
set by ``p2peval study serve``.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

STUDY_ENV = "P2PEVAL_STUDY"
DB_ENV = "P2PEVAL_STUDY_DB"
_PID = re.compile(r"^[A-Za-z0-9_.:@+-]{1,128}$")


def clean_pid(value) -> str | None:
    """A participant ID from a URL or a form, or None if missing or malformed."""
    if isinstance(value, list):
        value = value[0] if value else None
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if _PID.match(value) else None


def _resources():
    import streamlit as st
    from studies.resources import load

    study = os.environ.get(STUDY_ENV)
    if not study:
        st.error(f"No study file: set {STUDY_ENV} (p2peval study serve does this).")
        st.stop()
    return load(str(Path(study).resolve()), os.environ.get(DB_ENV, ""))


def _trial_data(config, trial, token: str) -> bytes:
    """The component's data for one trial (studies/component.py ``pack``): settings + two PNGs."""
    from studies.component import pack
    from studies.stimuli import stimulus_png
    real = stimulus_png(trial.real, config.image_size)
    fake = stimulus_png(trial.fake, config.image_size)
    first, second = (real, fake) if trial.real_position == 0 else (fake, real)
    return pack({"trial": token, "layout": config.layout, "display_ms": config.display_ms,
                 "gap_ms": config.gap_ms, "fixation_ms": config.fixation_ms,
                 "labels": list(config.labels), "question": f"Which image was {config.ask}?",
                 "size": list(config.image_size)}, [first, second])


def _on_answer(key: str, store, config, session, trial) -> None:
    """Callback of the trial component: check the trial token, store the answer once."""
    import streamlit as st
    current = st.session_state.get("trial")
    result = st.session_state.get(key)
    value = result.get("answer") if hasattr(result, "get") else getattr(result, "answer", None)
    if not isinstance(value, dict) or not current or value.get("trial") != current["token"]:
        return  # stale, repeated or foreign event
    st.session_state["trial"] = None
    from studies.protocol import answer_row
    try:
        row = answer_row(config, trial, value, current["shown_at"])
    except (KeyError, TypeError, ValueError):
        return
    if store.record_answer(session, row) and trial.kind == "practice":
        last = trial.index == config.practice_trials - 1
        st.session_state["feedback"] = {"correct": row["correct"], "last_practice": last}


def _identify(config) -> None:
    import streamlit as st
    st.title(config.title)
    with st.form("identify"):
        pid = st.text_input("Participant ID")
        if st.form_submit_button("Continue"):
            value = clean_pid(pid)
            if value:
                st.session_state["pid"] = value
                st.query_params["pid"] = value
                st.rerun()
            st.error("Please enter a participant ID (letters, digits, _.:@+- only).")


def _consent(config, store, pid: str) -> None:
    import streamlit as st
    st.title(config.title)
    st.subheader("Consent")
    st.markdown(config.text(config.consent))
    st.subheader("Instructions")
    st.markdown(config.text(config.instructions))

    def start():
        store.start_session(config.name, pid, list(config.algorithms), config.n_trials,
                            timeout_s=60.0 * config.session_timeout_minutes)
        st.session_state["active"] = True

    st.button("Start", type="primary", on_click=start)


def _complete(config, pid: str, again: bool) -> None:
    import streamlit as st
    st.title(config.title)
    if again:
        st.warning("This participant ID has already completed this study. Each participant ID can "
                   "take part only once.")
    else:
        st.success("Thank you, you have completed the study.")
    if config.completion_code:
        st.markdown(f"Your completion code: **`{config.completion_code}`**")
    if config.redirect_url:
        url = config.redirect_url.replace("{code}", config.completion_code).replace("{pid}", pid)
        st.link_button("Return to the study platform", url)


def _feedback(fb: dict) -> None:
    import streamlit as st
    if fb["correct"]:
        st.success("Correct")
    else:
        st.error("Incorrect")
    if fb["last_practice"]:
        st.info("The practice is over. The main trials follow; they give no feedback.")

    def go():
        st.session_state["feedback"] = None

    st.button("Continue", type="primary", on_click=go)


def _trials(config, material, store, session, i: int) -> None:
    """Trial ``i`` (the number of answers stored so far) of the session, or the completion page."""
    import streamlit as st
    from studies.component import trial_component
    from studies.protocol import plan_session
    from studies.storage import now

    if i >= session.n_trials:
        _complete(config, session.participant, again=False)
        return
    fb = st.session_state.get("feedback")
    if fb:
        _feedback(fb)
        return
    plan = st.session_state.get("plan")
    if not plan or plan[0] != session.id:
        plan = (session.id, plan_session(config, material, session.algorithm, session.seed))
        st.session_state["plan"] = plan
    trial = plan[1][i]
    if trial.kind == "practice":
        st.markdown(f"**Practice trial {i + 1} of {config.practice_trials}**")
    else:
        n_main = config.main_trials + config.vigilance.trials
        st.markdown(f"**Trial {i - config.practice_trials + 1} of {n_main}**")
    current = st.session_state.get("trial")
    if not current or current["index"] != i or current["session"] != session.id:
        current = {"index": i, "session": session.id, "token": secrets.token_hex(12),
                   "shown_at": now()}
        st.session_state["trial"] = current
    key = f"trial-{current['token']}"
    mount = trial_component()
    data = _trial_data(config, trial, current["token"])
    mount(key=key, data=data,
          on_answer_change=lambda: _on_answer(key, store, config, session, trial))


def main() -> None:
    import streamlit as st
    config, material, store = _resources()
    st.set_page_config(page_title=config.title, layout="centered")
    if "admin" in st.query_params:
        from studies.admin import render_admin
        render_admin(config, store)
        return
    pid = st.session_state.get("pid") or clean_pid(st.query_params.get("pid"))
    if not pid:
        _identify(config)
        return
    st.session_state["pid"] = pid
    session, n = store.session_progress(config.name, pid)
    if session is None:
        _consent(config, store, pid)
        return
    if session.finished and not st.session_state.get("active"):
        _complete(config, pid, again=True)
        return
    if not st.session_state.get("active"):
        # A reload or a new connection: resume where the stored answers end.
        st.title(config.title)
        st.info(f"Welcome back. You continue with trial {n + 1} of {session.n_trials}.")

        def resume():
            st.session_state["active"] = True

        st.button("Continue", type="primary", on_click=resume)
        return
    _trials(config, material, store, session, n)


if __name__ == "__main__":
    main()
