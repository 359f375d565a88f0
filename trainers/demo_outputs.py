"""The demo's sample sheet and its ready perceptual study."""

from __future__ import annotations

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
