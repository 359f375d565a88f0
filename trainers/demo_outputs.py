"""The demo's sample sheet and its ready perceptual study."""

from __future__ import annotations

import json
import os
from pathlib import Path

from p2peval.core.errors import ConfigError


def sample_columns(root: Path, frame_ids: list[str], folders: dict[str, Path]) -> list[tuple[str, list]]:
    """Columns of the sample sheet: the input labels (gtFine colour), then one column per
    ``folders`` entry (title -> results folder with ``<id>_leftImg8bit.png``), in order."""
    from p2peval.core.imageio import read_rgb
    from p2peval.data.cityscapes import list_frames

    by_id = {f.id: f for f in list_frames(root, "val")}
    cols = [("input labels", [read_rgb(by_id[i].color) for i in frame_ids])]
    for title, folder in folders.items():
        cols.append((title, [read_rgb(folder / f"{i}_leftImg8bit.png") for i in frame_ids]))
    return cols


def write_samples(out: Path, root: Path, frame_ids: list[str], folders: dict[str, Path], cell: int) -> Path:
    """``samples.png``: for each frame, the input labels, each folder's image (e.g. each model's
    output, then the real photo), ``cell`` x ``cell`` pixels each."""
    from p2peval.report.figures import image_png, sample_sheet, write_png_file

    return write_png_file(out, image_png(sample_sheet(sample_columns(root, frame_ids, folders), cell)))


def study_trials(n_images: int) -> tuple[int, int]:
    """(practice, main) trials that fit ``n_images`` images per algorithm: up to 5 practice
    trials (a fifth of the images) and up to 40 main trials."""
    if n_images < 1:
        raise ConfigError("a study needs at least one image per algorithm")
    practice = min(5, n_images // 5)
    return practice, min(40, n_images - practice)


def _toml(value) -> str:
    """A TOML string (JSON's escapes are TOML basic-string escapes) or integer."""
    return str(value) if isinstance(value, int) else json.dumps(str(value))


def write_study(path: Path, *, name: str, real: Path, algorithms: dict[str, Path], n_images: int,
                image_size: int, seed: int) -> Path:
    """A study TOML file for ``p2peval study serve``: the real photos against each algorithm's
    results folder, paired by input (same-input), trials sized to the images there are.

    Paths are written relative to the file's folder, as the study loader reads them.
    """
    practice, main = study_trials(n_images)
    base = path.parent.resolve()

    def rel(p: Path) -> str:
        return os.path.relpath(p.resolve(), base)

    lines = [f"name = {_toml(name)}", f"real = {_toml(rel(real))}",
             'pairing = "same-input"', 'layout = "sequential"', 'ask = "fake"',
             f"practice_trials = {practice}", f"main_trials = {main}",
             f"image_size = [{image_size}, {image_size}]", f"seed = {seed}", "", "[algorithms]"]
    lines += [f"{_toml(a)} = {_toml(rel(f))}" for a, f in algorithms.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, path)
    return path
