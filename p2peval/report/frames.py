"""Score files as a pandas DataFrame, for notebooks and custom plots.

``load_scores(paths)`` gives one row per (score file row, metric value): the label, the metric and
the value's key, the value, its confidence interval and standard error, the interval's level and
method, the direction, the protocol, whether the number may be compared with published ones, and
the file. The same readers and checks as ``p2peval table`` are used, so a file the table refuses is
refused here with the same message.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    import pandas

COLUMNS = ["label", "metric", "key", "value", "ci_low", "ci_high", "se", "level", "ci_method",
           "higher_is_better", "protocol", "comparable_with_published", "file"]


def load_scores(paths: Iterable[str | Path], labels: list[str] | None = None) -> "pandas.DataFrame":
    """One row per value of every score file in ``paths`` (several rows per file).

    ``labels``: one label per file, replacing the label stored in it (as ``table --label``).
    """
    import pandas as pd

    from p2peval.core.errors import ConfigError
    from p2peval.report.tables import entries_of

    paths = list(paths)
    if labels is not None and len(labels) != len(paths):
        raise ConfigError(f"{len(labels)} labels for {len(paths)} score files")
    records = []
    for i, path in enumerate(paths):
        for label, entry in entries_of(path, labels[i] if labels else None):
            ci = entry.ci or {}
            proto = entry.score.get("protocol")
            for key, value in entry.values.items():
                lohi = ci.get(key) if isinstance(ci.get(key), (list, tuple)) else (None, None)
                records.append({
                    "label": label, "metric": entry.metric, "key": key, "value": value,
                    "ci_low": lohi[0], "ci_high": lohi[1], "se": ci.get(f"{key}_se"),
                    "level": ci.get("level"), "ci_method": ci.get("method"),
                    "higher_is_better": (entry.higher_is_better or {}).get(key),
                    "protocol": proto.get("name") if isinstance(proto, dict) else proto,
                    "comparable_with_published": entry.score.get("comparable_with_published"),
                    "file": str(path),
                })
    frame = pd.DataFrame.from_records(records, columns=COLUMNS)
    return frame.astype({"value": float, "ci_low": float, "ci_high": float, "se": float})
