"""Study answers as CSV: one row per answered trial, the columns of the answers table."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from studies.storage import ANSWER_COLUMNS


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def answers_csv(rows: list[dict]) -> str:
    """CSV text of answer rows (booleans as 0/1, timestamps in ISO 8601)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(ANSWER_COLUMNS)
    for r in rows:
        w.writerow([_cell(r.get(c)) for c in ANSWER_COLUMNS])
    return buf.getvalue()


def write_answers_csv(rows: list[dict], path: str | Path) -> Path:
    """Write the CSV atomically (a temporary file renamed into place)."""
    from p2peval.core.atomic import write_text_atomic

    return write_text_atomic(path, answers_csv(rows))
