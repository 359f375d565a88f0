"""The study app's pages through Streamlit's AppTest (no browser: the trial component's
JavaScript does not run here; tests/test_study_browser.py covers it)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from studies.app import clean_pid
from studies.component import pack, unpack
from studies.config import load_study
from studies.demo import write_demo_study
from studies.protocol import answer_row, load_material, plan_session
from studies.storage import Store

APP = str(Path(__file__).resolve().parents[1] / "studies" / "app.py")


@pytest.fixture
def study(tmp_path, monkeypatch):
    path = write_demo_study(tmp_path / "s", n_images=6, size=16, practice_trials=1, main_trials=2,
                            completion_code="CODE-77", admin_token="tok-123",
                            blur={"algoAlpha": 0.5, "algoBeta": 2.0}, image_size=24)
    db = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("P2PEVAL_STUDY", str(path))
    monkeypatch.setenv("P2PEVAL_STUDY_DB", db)
    monkeypatch.delenv("P2PEVAL_STUDY_ADMIN_TOKEN", raising=False)
    return path, db


def _app(pid: str | None = None, **params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    if pid is not None:
        at.query_params["pid"] = pid
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()


def _texts(at) -> str:
    return "\n".join(str(getattr(e, "value", "")) for e in at.main)


def _answer_all(db: str, study_path: Path, pid: str, upto: int) -> None:
    cfg = load_study(study_path)
    store = Store(db)
    s = store.get_session(cfg.name, pid)
    for t in plan_session(cfg, load_material(cfg), s.algorithm, s.seed)[:upto]:
        store.record_answer(s, answer_row(cfg, t, {"choice": 0, "display_ms": [1000, 1000]}, None))
    store.close()


def test_participant_id_form(study):
    at = _app()
    assert not at.exception
    at.text_input[0].input("bad id with spaces")
    at.button[0].click().run()
    assert "Please enter a participant ID" in _texts(at)
    at.text_input[0].input("W-42")
    at.button[0].click().run()
    assert at.query_params["pid"] == ["W-42"] or at.query_params["pid"] == "W-42"
    assert at.subheader[0].value == "Consent"


def test_consent_start_and_trial_data_reveal_nothing(study):
    path, db = study
    at = _app("P1")
    assert [s.value for s in at.subheader] == ["Consent", "Instructions"]
    assert Store(db).get_session("demo", "P1") is None  # nothing stored before Start
    at.button[0].click().run()
    assert not at.exception
    session = Store(db).get_session("demo", "P1")
    assert session is not None and session.algorithm in ("algoAlpha", "algoBeta")
    assert "Practice trial 1 of 1" in _texts(at)
    (el,) = at.get("bidi_component")
    raw = el.proto.bytes
    data, (a, b) = unpack(raw)
    assert data["labels"] == ["First", "Second"] and data["display_ms"] == 1000
    assert set(data) == {"trial", "layout", "display_ms", "gap_ms", "fixation_ms",
                         "labels", "question", "size"}
    assert len(a) == len(b)
    assert Image.open(io.BytesIO(a)).size == Image.open(io.BytesIO(b)).size == (24, 24)
    for secret in ("algoAlpha", "algoBeta", "scene", "_real_B", "_fake_B", str(path.parent),
                   "results", "real_position"):
        assert secret.encode() not in raw
    assert data["trial"] == at.session_state["trial"]["token"]


def test_reload_resumes_at_next_unanswered_trial(study):
    path, db = study
    _app("P2").button[0].click().run()
    _answer_all(db, path, "P2", upto=2)
    at = _app("P2")  # a fresh browser session: no state but the database
    assert "You continue with trial 3 of 3" in _texts(at)
    at.button[0].click().run()
    assert "Trial 2 of 2" in _texts(at)
    assert len(at.get("bidi_component")) == 1


def test_completed_participant_gets_no_second_session(study):
    path, db = study
    _app("P3").button[0].click().run()
    _answer_all(db, path, "P3", upto=3)
    store = Store(db)
    before = store.session_rows("demo")
    at = _app("P3")
    text = _texts(at)
    assert "already completed this study" in text and "CODE-77" in text
    assert not at.get("bidi_component") and not at.button
    assert store.session_rows("demo") == before
    assert len(store.answer_rows("demo")) == 3


def test_admin_page_needs_the_token(study):
    path, db = study
    _app("P4").button[0].click().run()
    _answer_all(db, path, "P4", upto=3)
    at = _app(admin="1")
    assert "Real or fake?: admin" in at.title[0].value
    assert not at.dataframe
    at.text_input[0].input("wrong")
    at.button[0].click().run()
    assert "Wrong token." in _texts(at) and not at.dataframe
    at.text_input[0].input("tok-123")
    at.button[0].click().run()
    assert not at.exception
    progress = at.dataframe[0].value
    assert progress["completed sessions"].sum() == 1
    live = at.dataframe[1].value
    assert list(live["participants"]) == [1]
    assert "3 answers stored" in str([c.value for c in at.caption])


def test_admin_closed_without_token(study, tmp_path, monkeypatch):
    path, _ = study
    path.write_text(path.read_text().replace('admin_token = "tok-123"\n', ""))
    at = _app(admin="1")
    assert "admin page is disabled" in str([e.value for e in at.error])
    monkeypatch.setenv("P2PEVAL_STUDY_ADMIN_TOKEN", "env-token")
    at = _app(admin="1")
    at.text_input[0].input("env-token")
    at.button[0].click().run()
    assert at.dataframe


def test_side_by_side_labels(study):
    path, db = study
    path.write_text(path.read_text().replace('name = "demo"', 'name = "demo"\nlayout = "side-by-side"'))
    at = _app("P5")
    at.button[0].click().run()
    data, _ = unpack(at.get("bidi_component")[0].proto.bytes)
    assert data["labels"] == ["Left", "Right"] and data["layout"] == "side-by-side"


def test_answer_row_scoring():
    cfg = load_study(write_demo_study(Path(__import__("tempfile").mkdtemp()) / "s", n_images=3,
                                      size=16, practice_trials=1, main_trials=2))
    t = plan_session(cfg, load_material(cfg), "sharp", 3)[0]
    fake_pos = 1 - t.real_position
    right = answer_row(cfg, t, {"choice": fake_pos, "response_ms": 10}, None)
    wrong = answer_row(cfg, t, {"choice": t.real_position}, None)
    assert right["correct"] and not right["labeled_real"]
    assert not wrong["correct"] and wrong["labeled_real"]
    with pytest.raises(ValueError):
        answer_row(cfg, t, {"choice": 2}, None)
    assert clean_pid(" abc ") == "abc" and clean_pid("a b") is None and clean_pid(None) is None


def test_wrong_admin_tokens_are_slowed_down(study, monkeypatch):
    import studies.admin as admin
    waits = []
    monkeypatch.setattr(admin, "THROTTLE", admin.Throttle(base_s=0.5, max_s=4.0))
    monkeypatch.setattr(admin, "_sleep", waits.append)
    at = _app(admin="1")
    for guess in ("a", "tok-12", "tok-1234", "x", "y"):
        at.text_input[0].input(guess)
        at.button[0].click().run()
        assert "Wrong token." in _texts(at) and not at.dataframe
    assert waits == [0.5, 1.0, 2.0, 4.0, 4.0]  # doubling, capped
    at.text_input[0].input("tok-123")
    at.button[0].click().run()
    assert at.dataframe and len(waits) == 5  # the right token does not wait
    assert admin.check_token("tok-123", "tok-123") and not admin.check_token("", "")


def test_throttle_forgets_old_failures():
    from studies.admin import Throttle
    t = [0.0]
    th = Throttle(base_s=1.0, max_s=100.0, window_s=60.0, clock=lambda: t[0])
    assert [th.failed() for _ in range(3)] == [1.0, 2.0, 4.0]
    t[0] = 61.0  # the first three are outside the window now
    assert th.failed() == 1.0


@pytest.mark.parametrize("pid", ["x" * 129, "a b", "<script>", "é", "a/b", "", "a\x00"])
def test_malformed_participant_ids_start_nothing(study, pid):
    path, db = study
    at = _app(pid)
    assert at.text_input and at.text_input[0].label == "Participant ID"
    assert not at.subheader  # no consent page
    assert Store(db).session_rows("demo") == []


def test_longest_participant_id_is_accepted(study):
    at = _app("x" * 128)
    assert [s.value for s in at.subheader] == ["Consent", "Instructions"]


def test_trial_data_packing():
    meta = {"trial": "t1", "size": [2, 3]}
    images = [b"\x89PNG-first", b"", b"\x00second"]
    blob = pack(meta, images)
    assert blob[:4] == len(blob[4:blob.index(b"}") + 1]).to_bytes(4, "big")
    assert unpack(blob) == (meta, images)
    with pytest.raises(ValueError):
        unpack(blob + b"x")
