"""One self-contained HTML page comparing models by eye: the library behind ``p2peval report``.

The page holds the comparison table with significance marks (``p2peval.report.tables``), per-class
IoU and accuracy bars of every FCN-score row, the colour plot of the color-hist rows, the
distribution of per-frame pixel accuracy of every row with per-frame data, and, for the frames
where those rows differ most, each row's generated image beside what the scorer saw in it (its
segmentation, ``p2peval.scoring.segment``) and the ground-truth labels. Every image is inlined as
a ``data:`` URI: the page makes no request when it is opened.
"""

from __future__ import annotations

import base64
import html
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from p2peval.core.errors import ConfigError, InputError

CSS = """body{font-family:sans-serif;margin:1.5em;max-width:1400px;color:#222}
table.p2peval,table.frames,table.stats{border-collapse:collapse;margin:.5em 0}
table.p2peval td,table.p2peval th,table.stats td,table.stats th{border:1px solid #bbb;padding:.2em .5em}
table.p2peval td,table.stats td{text-align:right}table.p2peval td:first-child{text-align:left}
table.frames td{padding:2px;text-align:center;font-size:80%;vertical-align:top}
img{image-rendering:pixelated}.note{color:#555;font-size:90%}"""


@dataclass
class FcnRow:
    """An FCN-score (or label-score) row of the report."""

    label: str
    path: Path
    score: dict
    frame_ids: np.ndarray | None = None   # per-frame data from the sidecar, when there is one
    frame_acc: np.ndarray | None = None   # per-frame pixel accuracy (NaN: dropped frame)


def frame_pixel_accuracy(confusion: np.ndarray, mode: str) -> np.ndarray:
    """Per-frame pixel accuracy from per-frame extended confusion matrices (N, 19, 20), counted
    as the dataset score is in ``mode``; NaN for frames the reference evaluator drops."""
    from p2peval.metrics.confusion import frame_hists, scores_from_hist

    hist, extra, dropped = frame_hists(confusion, mode)
    acc = scores_from_hist(hist, extra if mode == "strict" else None)["per_pixel_acc"]
    return np.where(dropped, np.nan, acc)


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _img(png: bytes, alt: str, width: int | None = None) -> str:
    w = f' width="{width}"' if width else ""
    return f'<img src="{_data_uri(png)}" alt="{html.escape(alt)}"{w}>'


def load_report_rows(paths: list[Path]) -> tuple[list[FcnRow], list[dict]]:
    """FCN rows (with per-frame accuracy where a sidecar exists) and color-hist scores."""
    from p2peval.report.scorefile import read_sidecar
    from p2peval.report.tables import CONFUSION_METRICS, _confusion_mode, entries_of

    fcn, color = [], []
    for path in paths:
        for label, entry in entries_of(path):
            score = entry.score or {}
            if entry.metric in CONFUSION_METRICS:
                row = FcnRow(label, path, score)
                side = read_sidecar(score, path)
                if side is not None and "confusion" in side and "ids" in side:
                    row.frame_ids = np.asarray(side["ids"]).astype(str)
                    row.frame_acc = frame_pixel_accuracy(side["confusion"],
                                                         _confusion_mode(score) or "strict")
                fcn.append(row)
            elif entry.metric == "color-hist" and "histograms" in score:
                color.append(dict(score, label=label))
    return fcn, color


def frames_that_differ(rows: list[FcnRow], n: int) -> list[tuple[str, float]]:
    """The ``n`` frames shared by every row with per-frame data whose pixel accuracies differ
    most between the rows (largest max - min), with that spread, largest first."""
    rows = [r for r in rows if r.frame_acc is not None]
    if len(rows) < 2 or n <= 0:
        return []
    common = set(rows[0].frame_ids.tolist())
    for r in rows[1:]:
        common &= set(r.frame_ids.tolist())
    ids = sorted(common)
    if not ids:
        return []
    accs = np.stack([np.array([dict(zip(r.frame_ids.tolist(), r.frame_acc))[i] for i in ids])
                     for r in rows])
    spread = np.nanmax(accs, 0) - np.nanmin(accs, 0)
    order = sorted(range(len(ids)), key=lambda k: (-np.nan_to_num(spread[k], nan=-1), ids[k]))
    return [(ids[k], float(spread[k])) for k in order[:n]]


def _find_result(folder: Path, fid: str) -> Path | None:
    from p2peval.core.imageio import list_images
    from p2peval.data.cityscapes import frame_id

    if not folder.is_dir():
        return None
    for p in list_images(folder):
        if frame_id(p.name) == fid or p.stem == fid:
            return p
    return None


def _ground_truth_rgb(score: dict, fid: str) -> np.ndarray | None:
    """The ground-truth labels of a frame in colour, from the score file's label source."""
    from p2peval.core.imageio import read_label, read_rgb
    from p2peval.data.labels import label_ids_to_color

    labels = (score.get("inputs") or {}).get("labels") or {}
    if labels.get("root"):
        from p2peval.data.cityscapes import list_frames
        try:
            frames = list_frames(labels["root"], labels.get("split", "val"))
        except InputError:
            return None
        for f in frames:
            if f.id == fid:
                return read_rgb(f.color) if f.color.is_file() else label_ids_to_color(read_label(f.label_ids))
        return None
    if labels.get("folder"):
        p = _find_result(Path(labels["folder"]), fid)
        return None if p is None else read_rgb(p)
    return None


def _segmentations(row: FcnRow, images: dict[str, Path], scorer: Path | None) -> dict[str, np.ndarray]:
    """What the scorer sees in each image: {frame id: colour segmentation}."""
    from p2peval.core.imageio import read_rgb
    from p2peval.scoring.segment import segment

    labels = (row.score.get("inputs") or {}).get("labels") or {}
    proto = (row.score.get("protocol") or {}).get("name", "pix2pix")
    out: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory(prefix="p2peval-report-") as tmp:
        src, dst = Path(tmp) / "in", Path(tmp) / "out"
        src.mkdir()
        for fid, p in images.items():
            os.symlink(p.resolve(), src / p.name)
        segment(src, scorer=scorer, out=dst, protocol=proto, cityscapes=labels.get("root"),
                split=labels.get("split", "val"), show_progress=False)
        for fid, p in images.items():
            out[fid] = read_rgb(dst / f"{p.stem}_color.png")
    return out


def _scorer_of(row: FcnRow, scorer: Path | None) -> Path | None:
    if scorer is not None:
        return scorer
    path = (row.score.get("scorer") or {}).get("path")
    return Path(path) if path and Path(path).is_file() else None


def _frames_section(rows: list[FcnRow], picked: list[tuple[str, float]], n_frames: int,
                    scorer: Path | None, warn) -> list[str]:
    from p2peval.core.imageio import read_rgb
    from p2peval.report.figures import image_png

    fcn = [r for r in rows if r.score.get("metric") == "fcn-score" and r.frame_acc is not None]
    out = ["<h2>Frames where the rows differ most</h2>",
           ("<p class=\"note\">Per frame: the ground-truth labels, then for every row the generated "
            "image and, below it, the scorer's segmentation of it (class colours; black: no class). "
            "Frames are ranked by the spread (max - min) of the rows' per-frame pixel accuracy.</p>")]
    if not picked:
        why = ("none asked for (--frames 0)" if n_frames == 0 else
               "fewer than two rows with per-frame data on shared frames")
        return out + [f"<p>No frames to show: {why}.</p>"]
    segs: dict[str, dict[str, np.ndarray]] = {}
    images_of: dict[str, dict[str, Path]] = {}
    for r in fcn:
        images = {fid: p for fid, _ in picked
                  if (p := _find_result(Path((r.score.get("inputs") or {}).get("results", "")), fid))}
        s = _scorer_of(r, scorer)
        if s is None:
            warn(f"report: no scorer checkpoint for row {r.label!r} (give --scorer): "
                 "its segmentations are left out")
            segs[r.label] = {}
        else:
            segs[r.label] = _segmentations(r, images, s)
        images_of[r.label] = images
    head = "<tr><th>frame</th><th>ground truth</th>" + "".join(
        f"<th>{html.escape(r.label)}</th>" for r in fcn) + "</tr>"
    out.append("<table class=\"frames\">" + head)
    for fid, spread in picked:
        gt = _ground_truth_rgb(fcn[0].score, fid) if fcn else None
        cells = [f"<td>{html.escape(fid)}<br>spread {spread:.3f}</td>",
                 "<td>" + (_img(image_png(gt), f"{fid} ground truth", 160) if gt is not None
                           else "(not found)") + "</td>"]
        for r in fcn:
            acc = dict(zip(r.frame_ids.tolist(), r.frame_acc))[fid]
            p = images_of[r.label].get(fid)
            parts = [f"acc {acc:.3f}"]
            if p is not None:
                parts.append(_img(image_png(read_rgb(p)), f"{fid} {r.label} image", 160))
            if fid in segs[r.label]:
                parts.append(_img(image_png(segs[r.label][fid]), f"{fid} {r.label} segmentation", 160))
            cells.append("<td>" + "<br>".join(parts) + "</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return out


def _stats_table(rows: list[FcnRow]) -> str:
    lines = [("<table class=\"stats\"><tr><th>row</th><th>frames</th><th>min</th><th>median</th>"
              "<th>max</th></tr>")]
    for r in rows:
        a = r.frame_acc[np.isfinite(r.frame_acc)]
        lines.append(f"<tr><td>{html.escape(r.label)}</td><td>{len(a)}</td><td>{a.min():.4f}</td>"
                     f"<td>{np.median(a):.4f}</td><td>{a.max():.4f}</td></tr>")
    return "\n".join(lines) + "</table>"


def check_report_inputs(paths: list[str | Path], n_frames: int, scorer: str | Path | None) -> list[Path]:
    """Refuse bad input before any work: no files, unreadable or non-score files, bad options."""
    from p2peval.report.scorefile import read_score

    if not paths:
        raise ConfigError("no score files given")
    if n_frames < 0:
        raise ConfigError(f"--frames must be >= 0, got {n_frames}")
    if scorer is not None and not Path(scorer).is_file():
        raise InputError("no such scorer checkpoint", scorer)
    out = [Path(p) for p in paths]
    for p in out:
        read_score(p)
    return out


def build_report(paths: list[str | Path], *, title: str = "p2peval report", n_frames: int = 4,
                 scorer: str | Path | None = None, n_resamples: int = 1000, seed: int = 0,
                 warn=None) -> str:
    """The report page (HTML text) for ``paths`` (score files)."""
    from p2peval.report.figures import (
        class_bars_figure,
        figure_png,
        frame_accuracy_figure,
    )
    from p2peval.report.tables import build_table, render
    from p2peval.scoring.color_hist import color_hist_figure

    warn = warn or (lambda msg: print(msg, file=sys.stderr))
    paths = check_report_inputs(paths, n_frames, scorer)
    scorer = None if scorer is None else Path(scorer)
    table = build_table(paths, n_resamples=n_resamples, seed=seed)
    fcn, color = load_report_rows(paths)
    e = html.escape
    body = [f"<h1>{e(title)}</h1>",
            "<p class=\"note\">Score files: " + ", ".join(f"<code>{e(str(p))}</code>" for p in paths) + "</p>",
            "<h2>Comparison table</h2>", render(table, "html")]
    with_classes = [(r.label, r.score["per_class"]) for r in fcn
                    if isinstance(r.score.get("per_class"), dict) and "iou" in r.score["per_class"]]
    body.append("<h2>Per-class IoU and accuracy</h2>")
    if with_classes:
        body.append(_img(figure_png(class_bars_figure(with_classes)), "per-class IoU and accuracy bars"))
    else:
        body.append("<p>No FCN-score rows with per-class values.</p>")
    body.append("<h2>Colour distributions (Lab)</h2>")
    if color:
        body.append(_img(figure_png(color_hist_figure(color, "Lab marginals (dotted: reference)")),
                         "colour plot"))
    else:
        body.append("<p>No color-hist rows.</p>")
    framed = [r for r in fcn if r.frame_acc is not None]
    body.append("<h2>Per-frame pixel accuracy</h2>")
    if framed:
        body.append(_img(figure_png(frame_accuracy_figure([(r.label, r.frame_acc) for r in framed])),
                         "per-frame pixel accuracy"))
        body.append(_stats_table(framed))
    else:
        body.append("<p>No rows with per-frame data (the score files have no sidecars).</p>")
    body += _frames_section(fcn, frames_that_differ(fcn, n_frames), n_frames, scorer, warn)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{e(title)}</title><style>{CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def write_report(paths: list[str | Path], out: str | Path, **kwargs) -> Path:
    """Build the report and write it to ``out`` atomically."""
    from p2peval.core.atomic import write_text_atomic

    return write_text_atomic(out, build_report(paths, **kwargs))
