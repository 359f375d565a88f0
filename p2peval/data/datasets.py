"""Decoding and resizing for scoring, done in DataLoader workers.

``ScoringDataset`` turns each ``Pair`` into what the device needs: the result image (uint8 RGB,
already resized as the protocol says) or a predicted label map, and the ground-truth train ids at
the evaluation resolution. Errors are returned as values (not raised) so that the main process
can report them as one line naming the file; a worker exception would arrive as a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image

from p2peval.core.errors import InputError
from p2peval.core.imageio import _open, pil_bilinear_resize, read_label, read_rgb
from p2peval.data.labels import IGNORE, NUM_CLASSES, color_to_train_ids
from p2peval.data.pairing import GroundTruth, Pair
from p2peval.scoring.protocols import Protocol

Side = Literal["whole", "A", "B"]


@dataclass(frozen=True)
class LabelImageOptions:
    """How label images of a folder (``--labels DIR``) are read."""

    side: Side = "whole"  # "A"/"B": the left/right half of a pix2pix A|B pair image
    color_tolerance: float = 60.0  # RGB distance beyond which a colour matches no class
    max_unmatched: float = 0.1  # refuse an image with a larger fraction of such pixels


def _half(arr: np.ndarray, side: Side) -> np.ndarray:
    if side == "whole":
        return arr
    w = arr.shape[1] // 2
    return arr[:, :w] if side == "A" else arr[:, w:2 * w]


def _image_mode(path: Path) -> str:
    """The PIL mode from the header (no decoding); unreadable files raise ``InputError``."""
    try:
        with Image.open(path) as im:
            return im.mode
    except FileNotFoundError:
        raise InputError("no such file", path) from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return _open(path).mode  # raises the one-line error of imageio


def read_label_image(path: str | Path, opts: LabelImageOptions = LabelImageOptions(),
                     *, what: str = "label") -> tuple[np.ndarray, int]:
    """A label image as (H, W) uint8 train ids, and the number of unmatched colour pixels.

    Single-channel images hold train ids (0..18, 255 = ignore); colour images are decoded to the
    nearest class colour (``labels.color_to_train_ids``). Colour pixels farther than the tolerance
    from every class colour become ignore (255) and are counted; an image with more than
    ``max_unmatched`` of them is refused (it is probably not a label image).
    """
    path = Path(path)
    if _image_mode(path) in ("L", "P", "I;16", "I;16B", "I;16L", "I"):
        ids = _half(read_label(path), opts.side)
        bad = (ids >= NUM_CLASSES) & (ids != IGNORE)
        if bad.any():
            vals = sorted(set(np.unique(ids[bad]).tolist()))[:5]
            raise InputError(f"single-channel {what} image with values {vals} that are not train ids "
                             "(0..18, 255 = ignore)", path)
        return ids, 0
    rgb = _half(read_rgb(path), opts.side)
    ids, dist = color_to_train_ids(rgb)
    far = dist > opts.color_tolerance
    frac = float(far.mean()) if far.size else 0.0
    if frac > opts.max_unmatched:
        raise InputError(f"{frac:.1%} of the {what} colours match no class colour within distance "
                         f"{opts.color_tolerance:g} (limit {opts.max_unmatched:.0%}); not a Cityscapes "
                         "colour label image?", path)
    ids = ids.copy()
    ids[far] = IGNORE
    return ids, int(far.sum())


def read_ground_truth(truth: GroundTruth, opts: LabelImageOptions,
                      out: Callable[[tuple[int, ...]], np.ndarray] | None = None,
                      nearest_hw: tuple[int, int] | None = None) -> tuple[np.ndarray, int]:
    """(H, W) uint8 train ids of a ground-truth frame, and its unmatched colour pixels. ``out``:
    an optional function (H, W) -> uint8 array that Cityscapes train ids are written into.
    ``nearest_hw``: Cityscapes label ids are resized (nearest) to this size before they are mapped
    to train ids; nearest resizing only picks pixels, so the order changes nothing, and the table
    then maps 32x fewer pixels at 1024x2048 -> 256x256. Other label images are returned as read."""
    if truth.kind == "cityscapes-label-ids":
        from p2peval.data.cityscapes import read_train_ids
        return read_train_ids(truth.label, out, nearest_hw), 0
    return read_label_image(truth.label, opts)


class ItemBuffers:
    """uint8 arrays for an item's tensors. In a DataLoader worker they live in shared memory from
    the start, so handing the item to the main process copies nothing (the loader would otherwise
    copy every tensor into shared memory: 8 MB a frame at 1024x2048); elsewhere plain arrays."""

    def __init__(self) -> None:
        self.shared = torch.utils.data.get_worker_info() is not None
        self.tensors: dict[int, torch.Tensor] = {}  # id of the array -> the tensor it views

    def __call__(self, shape: tuple[int, ...]) -> np.ndarray:
        if not self.shared:
            return np.empty(shape, np.uint8)
        try:  # allocated in shared memory directly
            storage = torch.UntypedStorage._new_shared(int(np.prod(shape)))
            t = torch.empty(0, dtype=torch.uint8).set_(storage, 0, shape)
        except AttributeError:  # a torch without it: moved there (one copy of uninitialised memory)
            t = torch.empty(shape, dtype=torch.uint8).share_memory_()
        arr = t.numpy()
        self.tensors[id(arr)] = t
        return arr

    def tensor(self, arr: np.ndarray) -> torch.Tensor:
        """The tensor of an item array: the shared one it was written into, or a view of ``arr``."""
        t = self.tensors.get(id(arr))
        if t is not None and t.data_ptr() == arr.ctypes.data:
            return t
        return torch.from_numpy(np.require(arr, requirements=["C", "W"]))


def nearest_resize(ids: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of a label map (PIL NEAREST: pixel centres, no blending)."""
    h, w = size_hw
    if ids.shape == (h, w):
        return ids
    return np.asarray(Image.fromarray(ids).resize((w, h), Image.NEAREST), dtype=np.uint8)


def image_size(path: Path) -> tuple[int, int]:
    """(H, W) from the file header, without decoding; unreadable files raise ``InputError``."""
    try:
        with Image.open(path) as im:
            return im.size[1], im.size[0]
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        img = _open(Path(path))  # raises the one-line error of imageio
        return img.size[1], img.size[0]


class ScoringDataset(torch.utils.data.Dataset):
    """Items for the scorer (``kind="photo"``) or for label maps (``kind="labels"``).

    Each item is a dict: ``index``, ``key``, ``input`` (photo: (H, W, 3) uint8 tensor at the
    evaluation size; labels: (H, W) uint8 predicted train ids), ``gt`` ((H, W) uint8 train ids),
    ``gt_unmatched``/``pred_unmatched`` (colour pixels matching no class), ``gt_ignored``; or
    ``error``: (message, path) when a file is bad.
    """

    def __init__(self, pairs: list[Pair], protocol: Protocol, *, kind: Literal["photo", "labels"] = "photo",
                 expected_size: tuple[int, int] | None = None,
                 label_options: LabelImageOptions = LabelImageOptions(),
                 pred_options: LabelImageOptions = LabelImageOptions(max_unmatched=1.0)):
        self.pairs = pairs
        self.protocol = protocol
        self.kind = kind
        self.expected_size = expected_size
        self.label_options = label_options
        self.pred_options = pred_options

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> dict:
        pair = self.pairs[i]
        try:
            return self._load(i, pair)
        except InputError as e:
            return {"index": i, "key": pair.key, "error": (str(e), None)}

    def _load(self, i: int, pair: Pair) -> dict:
        buf = ItemBuffers()
        label_res = self.protocol.eval_resolution == "label"
        early = None if label_res or self.expected_size is None else tuple(self.expected_size)
        gt, gt_unmatched = read_ground_truth(pair.truth, self.label_options, buf if label_res else None, early)
        pred_unmatched = 0
        if self.kind == "photo":
            x = read_rgb(pair.result)
            if self.expected_size is not None and x.shape[:2] != tuple(self.expected_size):
                h, w = self.expected_size
                raise InputError(f"result is {x.shape[0]}x{x.shape[1]}, the other results are "
                                 f"{h}x{w} (all results must have one size)", pair.result)
        else:
            x, pred_unmatched = read_label_image(pair.result, self.pred_options, what="predicted label")
        if label_res:
            # Reference: the result is resized to the full label size; labels are never resized.
            if self.kind == "photo":
                if x.shape[:2] != gt.shape:
                    x = pil_bilinear_resize(x, gt.shape, out=buf((*gt.shape, x.shape[2])))
            else:
                x = nearest_resize(x, gt.shape)
        else:
            gt = nearest_resize(gt, x.shape[:2])  # nothing to do where it was resized early
        return {
            "index": i, "key": pair.key,
            "input": buf.tensor(x), "gt": buf.tensor(gt),
            "gt_unmatched": gt_unmatched, "pred_unmatched": pred_unmatched,
            "gt_ignored": int(np.count_nonzero(gt >= NUM_CLASSES)),
        }


def collate_items(items: list[dict]) -> list[dict]:
    """Keep items as a list; the scoring loop stacks those of equal size into batches."""
    return items


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)  # decoding workers must not compete with the forward pass


def make_loader(dataset: ScoringDataset, *, batch_size: int, workers: int,
                pin_memory: bool = False) -> torch.utils.data.DataLoader:
    """A DataLoader that decodes and resizes in ``workers`` processes, in order."""
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=False, num_workers=workers,
        collate_fn=collate_items, pin_memory=pin_memory,
        worker_init_fn=_worker_init if workers > 0 else None,
        prefetch_factor=2 if workers > 0 else None, persistent_workers=False)
