"""CLI command modules: each has HELP, EXAMPLES, add_arguments(parser) and run(args)."""

from __future__ import annotations


def parse_hw(text: str) -> tuple[int, int] | None:
    """``"HxW"`` -> (H, W), both positive; None when ``text`` is not such a size."""
    try:
        h, w = (int(v) for v in str(text).lower().split("x"))
    except ValueError:
        return None
    return (h, w) if h > 0 and w > 0 else None
