"""Pair result files (generated photos or predicted label maps) with ground-truth frames.

Ground truth comes from a Cityscapes root (``gtFine`` label ids, frames in the reference order)
or from a folder of label images named by Cityscapes id or by number ``<n>``. Results are named
by Cityscapes id (``<city>_<seq>_<frame>_leftImg8bit.png``) or numbered like pix2pix test outputs
(``<n>_fake_B.png``). Matching:

* ``"id"``: a result's key (its Cityscapes id, or its number) equals a ground-truth key;
* ``"sorted"``: the n-th result in numeric order is the n-th ground-truth frame (the reference
  data preparation numbered the val frames 1..500 in sorted order);
* a CSV path with columns ``n,cityscapes_id`` (toy-city writes ``pix2pix/val_ids.csv``).

Missing and extra results are refused with the first few names; nothing is skipped silently.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from p2peval.core.errors import InputError
from p2peval.core.imageio import list_images
from p2peval.data.cityscapes import find_cityscapes_root, frame_id, list_frames

# "<n>.png", "<n>_fake_B.png" (pix2pix test outputs), "<n>_anything.png".
NUMBERED_RE = re.compile(r"^(\d+)(?:_fake_B)?$")
# Files the pix2pix test script writes beside each result; never scored, always counted.
COMPANION_RE = re.compile(r"_(real_A|real_B|fake_A|rec_A|rec_B|idt_A|idt_B)$")
SHOW_FIRST = 5

LabelKind = Literal["cityscapes-label-ids", "label-image"]


@dataclass(frozen=True)
class GroundTruth:
    """One ground-truth frame: its key (Cityscapes id or number) and label file."""

    key: str
    label: Path
    kind: LabelKind  # raw Cityscapes label ids, or a train-id / colour label image
    frame_id: str | None  # the Cityscapes id where known


@dataclass(frozen=True)
class Pair:
    key: str  # ground-truth key
    result: Path
    truth: GroundTruth


@dataclass
class Pairing:
    pairs: list[Pair]
    match: str
    n_files: int  # result files considered (companions excluded)
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> number of files
    jpeg_results: list[Path] = field(default_factory=list)


def _first(names: list[str]) -> str:
    more = f" (and {len(names) - SHOW_FIRST} more)" if len(names) > SHOW_FIRST else ""
    return ", ".join(names[:SHOW_FIRST]) + more


def _num_key(stem: str) -> str | None:
    m = NUMBERED_RE.match(stem)
    return str(int(m.group(1))) if m else None


def ground_truth_from_cityscapes(root: str | Path, split: str = "val") -> list[GroundTruth]:
    """Frames of a Cityscapes root (or a toy-city folder) in the reference order."""
    return [GroundTruth(f.id, f.label_ids, "cityscapes-label-ids", f.id)
            for f in list_frames(find_cityscapes_root(root), split)]


def ground_truth_from_folder(folder: str | Path) -> list[GroundTruth]:
    """Label images named by Cityscapes id or by number; ordered like the reference.

    Numbered files are ordered numerically; Cityscapes ids by (city, id), which is the order
    ``list_frames`` gives.
    """
    folder = Path(folder)
    files = list_images(folder)
    if not files:
        raise InputError("empty labels folder (no image files)", folder)
    by_id, by_num, unnamed = [], [], []
    for p in files:
        fid = frame_id(p.name)
        num = _num_key(p.stem)
        if fid is not None:
            by_id.append(GroundTruth(fid, p, "label-image", fid))
        elif num is not None:
            by_num.append(GroundTruth(num, p, "label-image", None))
        else:
            unnamed.append(p.name)
    if unnamed:
        raise InputError(f"{len(unnamed)} label files named neither by Cityscapes id nor by number: "
                         f"{_first(unnamed)}", folder)
    if by_id and by_num:
        raise InputError("label files mix Cityscapes ids and numbers; use one naming", folder)
    items = by_id or by_num
    keys = [g.key for g in items]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise InputError(f"several label files for the same frame: {_first(dup)}", folder)
    if by_num:
        return sorted(items, key=lambda g: int(g.key))
    return sorted(items, key=lambda g: (g.key.rsplit("_", 2)[0], g.key))


def read_match_csv(path: str | Path) -> dict[str, str]:
    """``n,cityscapes_id`` rows -> {n: id}."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such match file", path)
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except (UnicodeDecodeError, csv.Error) as e:
        raise InputError(f"unreadable match CSV ({e})", path) from None
    if not rows or not {"n", "cityscapes_id"} <= set(rows[0]):
        raise InputError("match CSV needs a header with columns n,cityscapes_id", path)
    out: dict[str, str] = {}
    for i, row in enumerate(rows, start=2):
        n, fid = (row.get("n") or "").strip(), (row.get("cityscapes_id") or "").strip()
        if not n.isdigit() or frame_id(fid) != fid:
            raise InputError(f"line {i}: expected n,cityscapes_id, got {n!r},{fid!r}", path)
        if str(int(n)) in out:
            raise InputError(f"line {i}: number {n} appears twice", path)
        out[str(int(n))] = fid
    return out


def _result_keys(results: Path, match: str) -> tuple[dict[str, Path], dict[str, int], int]:
    """Key -> file for every result; counts of companion files; number of files considered."""
    files = list_images(results)
    if not files:
        raise InputError("empty results folder (no image files)", results)
    skipped: dict[str, int] = {}
    keyed: dict[str, Path] = {}
    unnamed: list[str] = []
    dups: list[str] = []
    considered = 0
    for p in files:
        if COMPANION_RE.search(p.stem):
            skipped["companion files (real_A/real_B/...) not scored"] = \
                skipped.get("companion files (real_A/real_B/...) not scored", 0) + 1
            continue
        considered += 1
        key = _num_key(p.stem) if match != "id" else (frame_id(p.name) or _num_key(p.stem))
        if key is None:
            unnamed.append(p.name)
            continue
        if key in keyed:
            dups.append(f"{keyed[key].name} / {p.name}")
            continue
        keyed[key] = p
    if unnamed:
        how = ("numbered like <n>_fake_B.png" if match != "id"
               else "named by Cityscapes id (<city>_<seq>_<frame>_leftImg8bit.png) or by number")
        raise InputError(f"{len(unnamed)} result files are not {how}: {_first(unnamed)}", results)
    if dups:
        raise InputError(f"several results for the same frame: {_first(dups)}", results)
    return keyed, skipped, considered


def pair_results(results: str | Path, truth: list[GroundTruth], match: str = "id") -> Pairing:
    """Pair every result file with its ground truth; refuse missing or extra results."""
    results = Path(results)
    if match not in ("id", "sorted"):
        csv_map = read_match_csv(match)
    keyed, skipped, considered = _result_keys(results, match)
    by_key = {g.key: g for g in truth}
    if match == "id":
        wanted = keyed
    elif match == "sorted":
        order = sorted(keyed, key=int)
        if len(order) != len(truth):
            nums = set(int(k) for k in keyed)
            expect = set(range(1, len(truth) + 1))
            detail = ""
            if nums <= expect and len(nums) < len(truth):
                gone = sorted(expect - nums)
                detail = "; missing numbers " + _first([f"{n} ({truth[n - 1].key})" for n in gone])
            elif len(nums) > len(truth):
                detail = "; extra: " + _first([keyed[k].name for k in order[len(truth):]])
            raise InputError(f"{len(order)} results for {len(truth)} ground-truth frames with "
                             f"--match sorted{detail}", results)
        wanted = {truth[i].key: keyed[k] for i, k in enumerate(order)}
    else:
        unknown = [keyed[k].name for k in keyed if k not in csv_map]
        if unknown:
            raise InputError(f"{len(unknown)} results have no row in {match}: {_first(unknown)}", results)
        wanted = {}
        for k, p in keyed.items():
            fid = csv_map[k]
            # Ground truth may itself be numbered (--labels DIR of <n>.png): then keep the number.
            wanted[fid if fid in by_key or k not in by_key else k] = p
    extra = sorted(p.name for k, p in wanted.items() if k not in by_key)
    if extra:
        hint = ""
        if match == "id" and all(_num_key(Path(n).stem) for n in extra) and \
                all(not g.key.isdigit() for g in truth):
            hint = " (numbered results: use --match sorted or --match FILE.csv)"
        raise InputError(f"{len(extra)} results match no ground-truth frame{hint}: {_first(extra)}", results)
    missing = [g.key for g in truth if g.key not in wanted]
    if missing:
        raise InputError(f"{len(missing)} of {len(truth)} ground-truth frames have no result: "
                         f"{_first(missing)}", results)
    pairs = [Pair(g.key, wanted[g.key], g) for g in truth]
    jpeg = []
    from p2peval.core.imageio import is_jpeg
    for p in pairs:
        if p.result.suffix.lower() in (".jpg", ".jpeg") or is_jpeg(p.result):
            jpeg.append(p.result)
    return Pairing(pairs, str(match), considered, skipped, jpeg)
