"""Write toy-city frames in the native Cityscapes layout and as pix2pix A|B pairs.

Each frame is drawn from its own RNG seeded by (seed, split, index), so frames are independent:
they are generated in parallel (a process pool), in any order, with byte-identical files for any
number of workers, and a rerun skips frames whose files are all present (every file is written
atomically, so a present file is complete).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from p2peval.core.atomic import write_text_atomic
from p2peval.core.errors import ConfigError, InputError
from p2peval.core.imageio import read_label, write_png
from p2peval.data import labels
from p2peval.data.toycity.render import Rendered, render_scene
from p2peval.data.toycity.scene import plan_scene
from p2peval.data.toycity.textures import textures_for_seed

GENERATOR_VERSION = 1
SPLITS = ("train", "val")
CITIES: dict[str, tuple[str, ...]] = {"train": ("toyville", "mockburg"), "val": ("pixelstadt",)}
FRAME_NUMBER = 19  # Cityscapes annotates the 20th frame of each snippet: <city>_<seq>_000019
PHOTO_RESIZE = "PIL bicubic"  # photo -> pix2pix half
LABEL_RESIZE = "nearest (pixel centres)"  # colour label -> pix2pix half


@dataclass(frozen=True)
class FrameSpec:
    split: str
    index: int  # generation index within the split (seeds the frame)
    city: str
    seq: int

    @property
    def id(self) -> str:
        return f"{self.city}_{self.seq:06d}_{FRAME_NUMBER:06d}"


def frame_specs(split: str, n: int) -> list[FrameSpec]:
    """The frames of a split in generation order (cities take turns)."""
    cities = CITIES[split]
    return [FrameSpec(split, i, cities[i % len(cities)], i // len(cities)) for i in range(n)]


def render_frame(seed: int, split: str, index: int, height: int, instances: bool = True) -> Rendered:
    """Render frame ``index`` of ``split``: (height, 2 * height) label ids, instances and photo.

    The dataset files need no instance map; ``instances=False`` skips drawing it (same pixels)."""
    rng = np.random.default_rng([int(seed), SPLITS.index(split), int(index), GENERATOR_VERSION])
    scene = plan_scene(rng, height)
    offset = (int(rng.integers(256)), int(rng.integers(256)))
    return render_scene(scene, textures_for_seed(seed), offset, instances)


def _paths(root: Path, spec: FrameSpec, number: int) -> dict[str, Path]:
    cs = root / "cityscapes"
    stem = spec.id
    return {"photo": cs / "leftImg8bit" / spec.split / spec.city / f"{stem}_leftImg8bit.png",
            "label_ids": cs / "gtFine" / spec.split / spec.city / f"{stem}_gtFine_labelIds.png",
            "color": cs / "gtFine" / spec.split / spec.city / f"{stem}_gtFine_color.png",
            "pair": root / "pix2pix" / spec.split / f"{number}.png"}


def _nearest(img: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour resize to (size, size), sampling at pixel centres (as PIL NEAREST)."""
    h, w = img.shape[:2]
    ri = ((np.arange(size) + 0.5) * h / size).astype(np.int64)
    ci = ((np.arange(size) + 0.5) * w / size).astype(np.int64)
    return img.take(ri, axis=0).take(ci, axis=1)  # rows, then columns: 3x faster than img[ri, ci]


def pix2pix_pair(photo: np.ndarray, color: np.ndarray, size: int) -> np.ndarray:
    """(size, 2 * size, 3): photo (PIL bicubic) | colour label (nearest), each size x size."""
    from PIL import Image

    a = np.asarray(Image.fromarray(photo).resize((size, size), Image.BICUBIC), dtype=np.uint8)
    return np.concatenate([a, _nearest(color, size)], axis=1)


def _make_frame(task: tuple) -> np.ndarray:
    """Worker: write one frame's four files unless all exist; returns its label-id histogram."""
    root, spec, number, seed, height, size = task
    paths = _paths(Path(root), spec, number)
    if all(p.exists() for p in paths.values()):
        return np.bincount(read_label(paths["label_ids"]).ravel(), minlength=256)
    r = render_frame(seed, spec.split, spec.index, height, instances=False)
    color = labels.label_ids_to_color(r.label_ids)
    write_png(paths["photo"], r.photo, photo=True)
    write_png(paths["label_ids"], r.label_ids)
    write_png(paths["color"], color)
    write_png(paths["pair"], pix2pix_pair(r.photo, color, size), photo=True)
    return np.bincount(r.label_ids.ravel(), minlength=256)


def _settings(n_train: int, n_val: int, size: int, height: int, seed: int) -> dict:
    return {"generator": "p2peval toycity", "version": GENERATOR_VERSION, "n_train": n_train, "n_val": n_val,
            "size": size, "native_height": height, "native_width": 2 * height, "seed": seed}


def _check_out(out: Path, settings: dict) -> None:
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a folder", out)
    meta = out / "toycity.json"
    if meta.exists():
        try:
            old = json.loads(meta.read_text())
        except (OSError, ValueError):
            raise InputError("unreadable toycity.json; remove the folder or choose another", meta) from None
        diff = [k for k in settings if old.get(k) != settings[k]]
        if diff:
            was = ", ".join(f"{k}={old.get(k)!r}" for k in diff)
            raise InputError(f"holds a toy-city dataset made with other settings ({was}); "
                             "choose another folder", out)
    elif (out / "cityscapes").exists() or (out / "pix2pix").exists():
        raise InputError("holds cityscapes/ or pix2pix/ but no toycity.json; choose an empty folder", out)


def _write_json(path: Path, obj: dict) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2) + "\n")


def _write_ids(path: Path, ids: list[str]) -> None:
    write_text_atomic(path, "n,cityscapes_id\n" + "".join(f"{i},{x}\n" for i, x in enumerate(ids, 1)))


def generate_toycity(out: str | Path, n_train: int, n_val: int, size: int = 256, seed: int = 0,
                     native_height: int | None = None, progress: bool = True,
                     workers: int | None = None) -> dict:
    """Generate (or resume) a toy-city dataset under ``out``; returns the settings written to
    ``out/toycity.json`` (with class pixel frequencies)."""
    out = Path(out)
    height = size if native_height is None else native_height
    for name, value, lo in (("n_train", n_train, 1), ("n_val", n_val, 1), ("size", size, 16),
                            ("native_height", height, 16), ("seed", seed, 0)):
        if not isinstance(value, (int, np.integer)) or value < lo:
            raise ConfigError(f"{name} must be an integer >= {lo}, got {value!r}")
    if size > 4096 or height > 4096:
        raise ConfigError("size and native_height must be at most 4096")
    workers = max(1, min(os.cpu_count() or 1, 4)) if workers is None else int(workers)
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    settings = _settings(int(n_train), int(n_val), int(size), int(height), int(seed))
    _check_out(out, settings)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create the output folder ({e.strerror or e})", out) from None
    if not (out / "toycity.json").exists():
        _write_json(out / "toycity.json", {**settings, "complete": False})
    tasks, ids = [], {}
    for split, n in (("train", n_train), ("val", n_val)):
        specs = frame_specs(split, n)
        order = sorted(specs, key=lambda s: s.id)
        ids[split] = [s.id for s in order]
        number = {s.id: k for k, s in enumerate(order, 1)}
        tasks += [(str(out), s, number[s.id], int(seed), int(height), int(size)) for s in specs]
    hist = np.zeros(256, np.int64)
    from p2peval.core.progress import progress as bar

    with bar(total=len(tasks), desc="toy-city", unit="img", disable=not progress) as pbar:
        from p2peval.core.parallel import default_start_method, process_map

        for h in process_map(_make_frame, tasks, workers, default_start_method()):
            hist += h
            pbar.update(1)
    for split in SPLITS:
        _write_ids(out / "pix2pix" / f"{split}_ids.csv", ids[split])
    train = labels.label_ids_to_train_ids(np.arange(256, dtype=np.uint8))
    total = int(hist.sum())
    freq = {name: float(hist[train == k].sum() / total) for k, name in enumerate(labels.CLASS_NAMES)}
    result = {**settings, "complete": True, "cities": {k: list(v) for k, v in CITIES.items()},
              "pix2pix_photo_resize": PHOTO_RESIZE, "pix2pix_label_resize": LABEL_RESIZE,
              "class_pixel_frequency": freq, "ignored_pixel_fraction": float(hist[train == 255].sum() / total)}
    _write_json(out / "toycity.json", result)
    return result
