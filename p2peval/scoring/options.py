"""The options of a scoring run, grouped by what they decide.

``GroundTruth`` says where the labels come from and how results are matched to them (it changes
which pixels are compared); ``Intervals`` says how the confidence intervals are resampled;
``Execution`` says how the run is carried out (device, batching, workers, progress, resume), which
never changes a number. ``fcn_score`` and ``label_score`` take these instead of a long list of
keyword arguments, and the commands build them from their options.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from p2peval.data.datasets import LabelImageOptions


@dataclass(frozen=True)
class GroundTruth:
    """Exactly one of a Cityscapes root (``cityscapes``, with ``split``) or a folder of label
    images (``labels``); ``match`` pairs results with frames (``id``, ``sorted`` or a CSV path);
    the last three read label images (which half of an A|B pair, colour matching)."""

    cityscapes: str | Path | None = None
    labels: str | Path | None = None
    split: str = "val"
    match: str = "id"
    labels_side: str = "whole"
    color_tolerance: float = 60.0
    max_unmatched: float = 0.1

    def label_options(self) -> LabelImageOptions:
        return LabelImageOptions(side=self.labels_side, color_tolerance=self.color_tolerance,
                                 max_unmatched=self.max_unmatched)


@dataclass(frozen=True)
class Intervals:
    """Bootstrap over frames: resamples and seed (the level is 95%)."""

    n_resamples: int = 1000
    seed: int = 0


@dataclass(frozen=True)
class Execution:
    """How a run is carried out; the result is the same for every choice here.

    ``batch_size``/``workers`` None: the protocol's default batch and up to 4 decoding workers.
    ``partial``: where the resumable per-frame state lives (None: nowhere, no resume).
    """

    device: str = "cpu"
    batch_size: int | None = None
    workers: int | None = None
    show_progress: bool = True
    partial: str | Path | None = None
    resume: bool = True
