"""Prepare what the paper's Cityscapes rows need from a user's own Cityscapes download.

From ``ROOT`` (``leftImg8bit/`` and ``gtFine/``) it writes under ``OUT``:

- ``train/<n>.png``, ``val/<n>.png``: pix2pix pairs, photo | colour label, each ``size x size``
  (A = photo, B = colour label, so labels -> photo is B to A), numbered 1..N in the reference
  order (cities sorted, frames sorted within each city: the sorted order the reference
  preparation numbered the val frames in), with ``train_ids.csv`` / ``val_ids.csv``
  (``n,cityscapes_id``) beside them for ``fcn-score --match``;
- ``ground_truth_256/<id>_leftImg8bit.png``: the real val photos downsampled to ``size x size``
  and named by Cityscapes id, with ``manifest.json``: the results folder of the paper's
  "ground truth" row;
- ``cityscapes_prepare.json``: the settings, so a rerun resumes (files present are complete:
  every file is written atomically) and a rerun with other settings is refused.

Filters: the reference preparation's exact filters are unknown (the released Cityscapes pairs
were made by the authors; their later PyTorch script calls PIL's ``resize`` with the default
filter, which is bicubic since Pillow 7 and was nearest before). p2peval uses PIL bicubic for
photos and PIL nearest for colour labels (exact class colours, no blended boundary colours),
as toy-city does; both can be changed and are recorded.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from p2peval.core.atomic import write_text_atomic
from p2peval.core.errors import ConfigError, InputError

FILTERS = ("nearest", "bilinear", "bicubic", "lanczos", "box")
SPLITS = ("train", "val")
FORMAT_VERSION = 1


@dataclass(frozen=True)
class PrepareConfig:
    size: int = 256
    photo_filter: str = "bicubic"
    label_filter: str = "nearest"
    splits: tuple[str, ...] = SPLITS
    ground_truth: bool = True  # write ground_truth_<size>/ from the val photos

    def to_dict(self) -> dict:
        d = asdict(self)
        d["splits"] = list(self.splits)
        return d

    def check(self) -> None:
        if not isinstance(self.size, int) or not 16 <= self.size <= 4096:
            raise ConfigError(f"size must be an integer in 16..4096, got {self.size!r}")
        for name in ("photo_filter", "label_filter"):
            if getattr(self, name) not in FILTERS:
                raise ConfigError(f"unknown {name.replace('_', ' ')} {getattr(self, name)!r}; "
                                  f"valid choices: {', '.join(FILTERS)}")
        bad = [s for s in self.splits if s not in SPLITS]
        if bad or not self.splits:
            raise ConfigError(f"splits must be some of {', '.join(SPLITS)}, got {', '.join(self.splits) or 'none'}")


def resize(img: np.ndarray, size: int, filt: str) -> np.ndarray:
    """PIL resize of uint8 (H, W, 3) to (size, size, 3) with the named filter."""
    from PIL import Image

    pil = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC,
           "lanczos": Image.LANCZOS, "box": Image.BOX}[filt]
    return np.asarray(Image.fromarray(img).resize((size, size), pil), dtype=np.uint8)


def _color_label(frame) -> tuple[np.ndarray, str]:
    """The frame's colour label: gtFine_color.png, or coloured from its labelIds when absent."""
    from p2peval.core.imageio import read_label, read_rgb
    from p2peval.data.labels import label_ids_to_color

    if Path(frame.color).is_file():
        return read_rgb(frame.color), "gtFine_color"
    return label_ids_to_color(read_label(frame.label_ids)), "labelIds coloured"


def _task(args: tuple) -> str:
    """Worker: write one frame's pair (and ground-truth photo) unless present."""
    frame, pair_path, gt_path, cfg = args
    from p2peval.core.imageio import read_rgb, write_png

    todo = [p for p in (pair_path, gt_path) if p is not None and not Path(p).exists()]
    if not todo:
        return "kept"
    photo = read_rgb(frame.image)
    a = resize(photo, cfg.size, cfg.photo_filter)
    if pair_path is not None and not Path(pair_path).exists():
        color, _ = _color_label(frame)
        if color.shape[:2] != photo.shape[:2]:
            raise InputError(f"colour label is {color.shape[1]}x{color.shape[0]} but the photo is "
                             f"{photo.shape[1]}x{photo.shape[0]}", frame.color)
        write_png(pair_path, np.concatenate([a, resize(color, cfg.size, cfg.label_filter)], axis=1), photo=True)
    if gt_path is not None and not Path(gt_path).exists():
        write_png(gt_path, a, photo=True)
    return "written"


def _write_text(path: Path, text: str) -> None:
    write_text_atomic(path, text)


def _check_settings(out: Path, settings: dict) -> None:
    import json

    meta = out / "cityscapes_prepare.json"
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a folder", out)
    if meta.exists():
        try:
            old = json.loads(meta.read_text())
        except (OSError, ValueError):
            raise InputError("unreadable; remove it or choose another output folder", meta) from None
        keys = ("format_version", "root", "config")
        diff = [k for k in keys if old.get(k) != settings.get(k)]
        if diff:
            was = "; ".join(f"{k}={old.get(k)!r}" for k in diff)
            raise InputError(f"holds a preparation made with other settings ({was}); choose another folder", out)
    elif out.is_dir() and any(p.name in ("train", "val") or p.name.startswith("ground_truth_")
                              for p in out.iterdir()):
        raise InputError("holds train/, val/ or ground_truth_*/ but no cityscapes_prepare.json; "
                         "choose an empty folder", out)


def prepare_cityscapes(root: str | Path, out: str | Path, config: PrepareConfig = PrepareConfig(), *,
                       workers: int | None = None, show_progress: bool = True) -> dict:
    """Write the pix2pix pairs and the ground-truth results folder; returns the summary.

    Every photo and colour label is checked to exist before anything is written; a missing one
    is refused with its path. Reruns skip files already written.
    """
    from p2peval.core.atomic import write_json_atomic
    from p2peval.core.progress import progress
    from p2peval.data.cityscapes import find_cityscapes_root, list_frames

    config.check()
    root = find_cityscapes_root(root)
    out = Path(out)
    settings = {"format_version": FORMAT_VERSION, "root": str(root.resolve()), "config": config.to_dict()}
    _check_settings(out, settings)
    frames = {split: list_frames(root, split) for split in config.splits}
    for split, fs in frames.items():
        for f in fs:
            if not Path(f.image).is_file():
                raise InputError(f"photo of {split} frame {f.id} is missing (leftImg8bit)", f.image)
    out.mkdir(parents=True, exist_ok=True)
    if not (out / "cityscapes_prepare.json").exists():
        write_json_atomic(out / "cityscapes_prepare.json", {**settings, "complete": False})
    gt_dir = out / f"ground_truth_{config.size}"
    tasks = []
    counts: dict[str, int] = {}
    for split, fs in frames.items():
        (out / split).mkdir(exist_ok=True)
        _write_text(out / f"{split}_ids.csv",
                    "n,cityscapes_id\n" + "".join(f"{n},{f.id}\n" for n, f in enumerate(fs, 1)))
        counts[split] = len(fs)
        for n, f in enumerate(fs, 1):
            gt = gt_dir / f"{f.id}_leftImg8bit.png" if (split == "val" and config.ground_truth) else None
            tasks.append((f, out / split / f"{n}.png", gt, config))
    colours_from_ids = sum(not Path(t[0].color).is_file() for t in tasks)
    workers = max(1, min(os.cpu_count() or 1, 4)) if workers is None else int(workers)
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    outcome = {"written": 0, "kept": 0}
    with progress(total=len(tasks), desc="data cityscapes", unit="frame", disable=not show_progress) as bar:
        from p2peval.core.parallel import default_start_method, process_map

        for r in process_map(_task, tasks, 1 if len(tasks) < 8 else workers, default_start_method()):
            outcome[r] += 1
            bar.update(1)
    if config.ground_truth and "val" in frames:
        write_json_atomic(gt_dir / "manifest.json", {
            "label": "ground truth",
            "what": f"real Cityscapes val photos (leftImg8bit) downsampled to {config.size}x{config.size}: "
                    "the results folder of the pix2pix paper's 'ground truth' FCN-score row",
            "source": str(root.resolve()), "split": "val", "n_images": counts["val"],
            "size": [config.size, config.size], "filter": f"PIL {config.photo_filter}",
            "naming": "<city>_<seq>_<frame>_leftImg8bit.png", "made_by": "p2peval data cityscapes"})
    summary = {**settings, "complete": True, "frames": counts, "frames_written": outcome["written"],
               "frames_kept": outcome["kept"], "colour_labels_from_label_ids": colours_from_ids,
               "pairs": "photo (A) | colour label (B), each size x size, PNG",
               "numbering": "1..N in sorted order (cities sorted, frames sorted within each city)",
               "photo_filter": f"PIL {config.photo_filter}", "label_filter": f"PIL {config.label_filter}",
               "ground_truth_folder": gt_dir.name if config.ground_truth and "val" in frames else None}
    write_json_atomic(out / "cityscapes_prepare.json", summary)
    return summary
