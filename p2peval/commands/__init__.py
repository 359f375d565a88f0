"""CLI command modules: each has HELP, EXAMPLES, add_arguments(parser) and run(args)."""

from __future__ import annotations


def parse_hw(text: str) -> tuple[int, int] | None:
    """``"HxW"`` -> (H, W), both positive; None when ``text`` is not such a size."""
    try:
        h, w = (int(v) for v in str(text).lower().split("x"))
    except ValueError:
        return None
    return (h, w) if h > 0 and w > 0 else None


# ------------------------------------------------------------------ numeric option types
# Every numeric option of every command takes one of these as its argparse ``type``, so a bad value
# is refused while the command line is parsed, before any work starts (one line, exit 2).
# tests/test_options.py feeds each of them a negative value and, where zero is invalid, a zero.

class NumberType:
    """An argparse ``type`` for a number within bounds; ``None`` bounds are open-ended."""

    def __init__(self, kind: type, low: float | None = None, high: float | None = None, *,
                 low_open: bool = False, high_open: bool = False) -> None:
        self.kind, self.low, self.high, self.low_open, self.high_open = kind, low, high, low_open, high_open
        self.__name__ = self.describe()  # argparse names the type in its messages

    def describe(self) -> str:
        noun = "an integer" if self.kind is int else "a number"
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        return noun + (" " + " and ".join(parts) if parts else "")

    def admits(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        if self.high is not None and (value >= self.high if self.high_open else value > self.high):
            return False
        return True

    def __call__(self, text: str):
        import argparse
        import math
        try:
            value = self.kind(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"expected {self.describe()}, got {text!r}") from None
        if isinstance(value, float) and not math.isfinite(value) or not self.admits(value):
            raise argparse.ArgumentTypeError(f"must be {self.describe()}, got {text!r}")
        return value


positive_int = NumberType(int, 1)            # counts of things that must exist: steps, images, repeats
nonneg_int = NumberType(int, 0)              # seeds, worker counts (0 = in the main process)
port_number = NumberType(int, 1, 65535)
positive_float = NumberType(float, 0, low_open=True)
nonneg_float = NumberType(float, 0)
probability = NumberType(float, 0, 1)        # a share in [0, 1]
confidence_level = NumberType(float, 0, 1, low_open=True, high_open=True)
