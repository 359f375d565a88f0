"""Resumable scoring: per-frame matrices saved next to the score file while a run goes on.

``<out>.partial.npz`` (``<out>.partial.rank<r>of<n>.npz`` under torchrun) holds the frame ids, their
(19, 20) matrices, their side counts and a fingerprint of everything that changes the result
(scorer weights, protocol, inputs). A rerun with the same fingerprint skips the frames already
scored; a different fingerprint starts afresh. Writes are atomic.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from p2peval.core.atomic import atomic_path

SIDE_COUNTS = ("gt_unmatched", "pred_unmatched", "gt_ignored")


def fingerprint(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


def partial_path(out: str | Path, rank: int = 0, world_size: int = 1) -> Path:
    out = Path(out)
    tag = "partial" if world_size == 1 else f"partial.rank{rank}of{world_size}"
    return out.with_name(f"{out.name}.{tag}.npz")


@dataclass
class PartialState:
    path: Path | None
    fingerprint: str
    frame_ids: list[str] = field(default_factory=list)
    frames: list[np.ndarray] = field(default_factory=list)
    side: dict[str, list[int]] = field(default_factory=lambda: {k: [] for k in SIDE_COUNTS})

    @classmethod
    def load(cls, path: Path | None, fp: str) -> "PartialState":
        """The saved state when it matches ``fp``, else an empty one."""
        state = cls(path, fp)
        if path is None or not path.is_file():
            return state
        try:
            with np.load(path, allow_pickle=False) as z:
                if str(z["fingerprint"]) != fp:
                    return state
                state.frame_ids = [str(s) for s in z["frame_ids"]]
                state.frames = list(z["frames"].astype(np.int64))
                for k in SIDE_COUNTS:
                    state.side[k] = [int(v) for v in z[k]]
        except (OSError, KeyError, ValueError):
            return cls(path, fp)  # unreadable partial state: start afresh
        return state

    def add(self, frame_id: str, ext: np.ndarray, side: dict[str, int]) -> None:
        self.frame_ids.append(frame_id)
        self.frames.append(np.asarray(ext, dtype=np.int64))
        for k in SIDE_COUNTS:
            self.side[k].append(int(side.get(k, 0)))

    def save(self) -> None:
        if self.path is None:
            return
        n = len(self.frame_ids)
        frames = np.stack(self.frames) if n else np.zeros((0, 19, 20), dtype=np.int64)
        with atomic_path(self.path, ".npz") as tmp:
            np.savez(tmp, fingerprint=np.array(self.fingerprint), frame_ids=np.array(self.frame_ids, dtype=str),
                     frames=frames, **{k: np.array(v, dtype=np.int64) for k, v in self.side.items()})

    def remove(self) -> None:
        if self.path is not None and self.path.exists():
            self.path.unlink()
