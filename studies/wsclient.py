"""A Streamlit client without a browser: one page's websocket, in Streamlit's own protobuf messages.

The page's JavaScript never runs here, so the client sends what the page would send: a
``rerun_script`` request carrying the query string and the widget states (a button click is a
trigger; a custom component's event is a JSON trigger). It then reads the run's messages until the
script has finished, and returns the elements the run drew. Loopback servers only.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

LOOPBACK = ("127.0.0.1", "localhost", "::1")
EARLY = ForwardMsg.ScriptFinishedStatus.FINISHED_EARLY_FOR_RERUN


class ProtocolError(RuntimeError):
    """The server did not answer as a Streamlit app page would expect."""


@dataclass
class Element:
    """One element a run drew: its type ('button', 'bidi_component', ...) and proto."""

    kind: str
    proto: object
    received: float             # time.perf_counter() when its message arrived
    hash: str = ""              # the ForwardMsg hash (for the message cache)
    ref: bool = False           # arrived as a reference to a cached message (no content)

    @property
    def text(self) -> str:
        """The visible text of text-like elements ('' for others)."""
        for attr in ("body", "label"):
            if hasattr(self.proto, attr):
                return str(getattr(self.proto, attr))
        return ""


@dataclass
class Run:
    """The elements of one finished script run (earlier runs abandoned for a rerun dropped)."""

    elements: list[Element] = field(default_factory=list)
    bytes_received: int = 0

    def find(self, kind: str, label: str | None = None) -> Element | None:
        for e in self.elements:
            if e.kind == kind and (label is None or getattr(e.proto, "label", None) == label):
                return e
        return None

    def texts(self) -> str:
        return "\n".join(e.text for e in self.elements)


def check_loopback(url: str) -> None:
    """Refuse anything but a server on this machine's loopback address."""
    host = urlsplit(url).hostname
    if host not in LOOPBACK:
        raise ValueError(f"only a loopback server (127.0.0.1) may be driven, got {url!r}")


class StreamlitClient:
    """One page: ``await connect()``, then ``await rerun(...)`` per user action."""

    def __init__(self, url: str, query_string: str = "", timeout_s: float = 60.0):
        check_loopback(url)
        parts = urlsplit(url)
        self.ws_url = f"ws://{parts.hostname}:{parts.port}/_stcore/stream"
        self.query_string = query_string
        self.timeout_s = timeout_s
        self.session_id: str | None = None
        self.ws = None

    async def connect(self, resume: bool = False) -> None:
        """Open the websocket (``resume``: ask for the same server-side session back)."""
        import websockets
        protocols = ["streamlit", "PLACEHOLDER_AUTH_TOKEN"]
        if resume and self.session_id:
            protocols.append(self.session_id)
        self.ws = await asyncio.wait_for(
            websockets.connect(self.ws_url, subprotocols=protocols, max_size=None,
                               max_queue=None, open_timeout=self.timeout_s),
            self.timeout_s)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
            self.ws = None

    async def rerun(self, widgets: list[WidgetState] | None = None,
                    cached_hashes: list[str] | None = None) -> tuple[Run, float]:
        """Send a rerun request; returns the finished run and the send time (perf_counter)."""
        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string = self.query_string
        cs.widget_states.widgets.extend(widgets or [])
        cs.cached_message_hashes.extend(cached_hashes or [])
        sent = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        return await self._read_run(), sent

    async def _read_run(self) -> Run:
        run = Run()
        deadline = time.monotonic() + self.timeout_s
        for _ in range(100_000):  # bounded: a run sends far fewer messages
            left = deadline - time.monotonic()
            if left <= 0:
                break
            raw = await asyncio.wait_for(self.ws.recv(), left)
            now = time.perf_counter()
            fm = ForwardMsg()
            fm.ParseFromString(raw)
            run.bytes_received += len(raw)
            kind = fm.WhichOneof("type")
            if kind == "new_session":
                self.session_id = fm.new_session.initialize.session_id or self.session_id
            elif kind == "ref_hash":
                run.elements.append(Element("ref", None, now, fm.ref_hash, ref=True))
            elif kind == "delta" and fm.delta.WhichOneof("type") == "new_element":
                el = fm.delta.new_element
                et = el.WhichOneof("type")
                run.elements.append(Element(et, getattr(el, et), now, fm.hash))
            elif kind == "script_finished":
                if fm.script_finished == EARLY:
                    run = Run(bytes_received=run.bytes_received)
                    continue
                return run
        raise ProtocolError(f"no finished script run within {self.timeout_s} s")


def button(element: Element) -> WidgetState:
    """The widget state of a click on a button element."""
    return WidgetState(id=element.proto.id, trigger_value=True)


def component_event(element: Element, event: str, value) -> WidgetState:
    """The widget state a custom component (v2) sends for ``setTriggerValue(event, value)``."""
    return WidgetState(id=f"$$STREAMLIT_INTERNAL_KEY_{element.proto.id}__events",
                       json_trigger_value=json.dumps([{"event": event, "value": value}]))


def component_data(element: Element) -> dict:
    """The trial component's data (studies/component.py): its settings, with the two PNGs as
    ``images`` (bytes)."""
    from studies.component import unpack
    meta, images = unpack(element.proto.bytes)
    return {**meta, "images": images}
