"""User-facing errors: one clear line, a non-zero exit, no traceback."""

from __future__ import annotations

from pathlib import Path


class P2PError(Exception):
    """An error caused by the user's input, reported by the CLI as one line.

    The message should name the file (if any) and what is wrong with it.
    """

    exit_code = 2

    def __init__(self, message: str, path: str | Path | None = None):
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)


class InputError(P2PError):
    """A file or folder given by the user is missing, unreadable or malformed."""


class ConfigError(P2PError):
    """An option, name or configuration value is invalid."""
