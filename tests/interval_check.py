"""Every reported interval must contain its estimate: the check, for any score object."""

from __future__ import annotations

from numbers import Real


def _pair(iv) -> bool:
    return isinstance(iv, (list, tuple)) and len(iv) == 2 and all(
        isinstance(x, Real) and not isinstance(x, bool) for x in iv)


def _check(values: dict, ci: dict, where: str) -> list[str]:
    bad = []
    for k, v in values.items():
        iv = ci.get(k)
        if isinstance(v, Real) and not isinstance(v, bool) and _pair(iv) and not iv[0] <= v <= iv[1]:
            bad.append(f"{where}{k}: {v!r} outside [{iv[0]!r}, {iv[1]!r}]")
    return bad


def interval_violations(score: dict) -> list[str]:
    """Descriptions of every interval of a score object (headline values, ``rows`` of multi-row
    files, ``comparisons``) that does not contain its estimate; empty when all do."""
    bad: list[str] = []
    if isinstance(score.get("values"), dict) and isinstance(score.get("ci"), dict):
        bad += _check(score["values"], score["ci"], "")
    for r in score.get("rows") or []:
        if isinstance(r, dict) and isinstance(r.get("values"), dict) and isinstance(r.get("ci"), dict):
            bad += _check(r["values"], r["ci"], f"row {r.get('label')!r} ")
    for c in score.get("comparisons") or []:
        if isinstance(c, dict):
            bad += _check({"difference": c.get("difference")}, {"difference": c.get("ci")},
                          f"comparison {c.get('a')!r} - {c.get('b')!r} ")
    return bad
