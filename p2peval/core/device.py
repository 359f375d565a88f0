"""One device resolver for scoring, scorer training and the trainers.

``cpu``, ``cuda``, ``cuda:N`` and ``auto`` (CUDA when there is one, else the CPU). Under
``torchrun`` a bare ``cuda`` means this process's GPU, ``cuda:<LOCAL_RANK>``. CUDA asked for on a
machine without it is refused with one line, before any work starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from p2peval.core.errors import ConfigError

if TYPE_CHECKING:
    import torch

VALID = "cpu, cuda, cuda:N, auto"


def check_device(name: str) -> str:
    """Validate a device name and return it unchanged (``cuda`` stays ``cuda``)."""
    import torch

    if name in ("cpu", "auto"):
        return name
    if name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit()):
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {name}: no CUDA device is available on this machine; use --device cpu")
        return name
    raise ConfigError(f"unknown device {name!r}; valid: {VALID}")


def resolve_device(name: str, local_rank: int = 0) -> "torch.device":
    """The ``torch.device`` to run on; ``local_rank`` picks the GPU for a bare ``cuda``."""
    import torch

    check_device(name)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        return torch.device("cuda", local_rank)
    return torch.device(name)
