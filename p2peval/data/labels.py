"""The Cityscapes class table and label decoding.

Public fact (cityscapesScripts ``helpers/labels.py``): 34 raw label ids, 19 of which are
evaluated as train ids 0..18; every other id maps to the ignore value 255.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from p2peval.core.arrays import take_rows

IGNORE = 255
NUM_CLASSES = 19


@dataclass(frozen=True)
class Label:
    name: str
    id: int
    train_id: int
    color: tuple[int, int, int]


LABELS: tuple[Label, ...] = (
    Label("unlabeled", 0, 255, (0, 0, 0)),
    Label("ego vehicle", 1, 255, (0, 0, 0)),
    Label("rectification border", 2, 255, (0, 0, 0)),
    Label("out of roi", 3, 255, (0, 0, 0)),
    Label("static", 4, 255, (0, 0, 0)),
    Label("dynamic", 5, 255, (111, 74, 0)),
    Label("ground", 6, 255, (81, 0, 81)),
    Label("road", 7, 0, (128, 64, 128)),
    Label("sidewalk", 8, 1, (244, 35, 232)),
    Label("parking", 9, 255, (250, 170, 160)),
    Label("rail track", 10, 255, (230, 150, 140)),
    Label("building", 11, 2, (70, 70, 70)),
    Label("wall", 12, 3, (102, 102, 156)),
    Label("fence", 13, 4, (190, 153, 153)),
    Label("guard rail", 14, 255, (180, 165, 180)),
    Label("bridge", 15, 255, (150, 100, 100)),
    Label("tunnel", 16, 255, (150, 120, 90)),
    Label("pole", 17, 5, (153, 153, 153)),
    Label("polegroup", 18, 255, (153, 153, 153)),
    Label("traffic light", 19, 6, (250, 170, 30)),
    Label("traffic sign", 20, 7, (220, 220, 0)),
    Label("vegetation", 21, 8, (107, 142, 35)),
    Label("terrain", 22, 9, (152, 251, 152)),
    Label("sky", 23, 10, (70, 130, 180)),
    Label("person", 24, 11, (220, 20, 60)),
    Label("rider", 25, 12, (255, 0, 0)),
    Label("car", 26, 13, (0, 0, 142)),
    Label("truck", 27, 14, (0, 0, 70)),
    Label("bus", 28, 15, (0, 60, 100)),
    Label("caravan", 29, 255, (0, 0, 90)),
    Label("trailer", 30, 255, (0, 0, 110)),
    Label("train", 31, 16, (0, 80, 100)),
    Label("motorcycle", 32, 17, (0, 0, 230)),
    Label("bicycle", 33, 18, (119, 11, 32)),
)

TRAIN_LABELS: tuple[Label, ...] = tuple(
    sorted((lab for lab in LABELS if lab.train_id != IGNORE), key=lambda lab: lab.train_id)
)
CLASS_NAMES: tuple[str, ...] = tuple(lab.name for lab in TRAIN_LABELS)
TRAIN_COLORS = np.array([lab.color for lab in TRAIN_LABELS], dtype=np.uint8)  # (19, 3)
TRAIN_ID_TO_LABEL_ID = np.array([lab.id for lab in TRAIN_LABELS], dtype=np.uint8)  # (19,)

# Raw label id (0..255) -> train id; unknown ids (and -1, stored as 255) are ignored.
_ID_TO_TRAIN = np.full(256, IGNORE, dtype=np.uint8)
for _lab in LABELS:
    _ID_TO_TRAIN[_lab.id] = _lab.train_id

# Raw label id -> colour of gtFine_color.png.
_ID_TO_COLOR = np.zeros((256, 3), dtype=np.uint8)
for _lab in LABELS:
    _ID_TO_COLOR[_lab.id] = _lab.color

# Train id (0..255) -> colour; ignore and anything else -> black.
_TRAIN_TO_COLOR = np.zeros((256, 3), dtype=np.uint8)
_TRAIN_TO_COLOR[:NUM_CLASSES] = TRAIN_COLORS

# Palette used to decode colour label images: the 19 class colours, then the colours of ignored
# classes that are not also a class colour (polegroup shares pole's colour and decodes as pole).
_class_colors = {tuple(c) for c in TRAIN_COLORS.tolist()}
_ignore_colors = []
for _lab in LABELS:
    if _lab.train_id == IGNORE and _lab.color not in _class_colors and _lab.color not in _ignore_colors:
        _ignore_colors.append(_lab.color)
DECODE_PALETTE = np.concatenate([TRAIN_COLORS, np.array(_ignore_colors, dtype=np.uint8)])  # (K, 3)
DECODE_TRAIN_IDS = np.concatenate(
    [np.arange(NUM_CLASSES, dtype=np.uint8), np.full(len(_ignore_colors), IGNORE, dtype=np.uint8)]
)


def label_ids_to_train_ids(label_ids: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Map raw Cityscapes label ids (uint8 ``gtFine_labelIds``) to train ids, 255 = ignore.
    ``out``: an optional uint8 array of the same shape to write into."""
    # take is faster than fancy indexing; every uint8 index is in the 256-entry table, so "clip"
    # (which skips the bounds check and the buffering of out) changes nothing
    return np.take(_ID_TO_TRAIN, np.asarray(label_ids, dtype=np.uint8), out=out, mode="clip")


def train_id_table() -> list[int]:
    """The 256-entry table raw label id -> train id, as a list (for PIL's ``Image.point``)."""
    return _ID_TO_TRAIN.tolist()


def train_ids_to_label_ids(train_ids: np.ndarray) -> np.ndarray:
    """Map train ids 0..18 back to raw label ids; ignore (255) becomes 0 (unlabeled)."""
    lut = np.zeros(256, dtype=np.uint8)
    lut[:NUM_CLASSES] = TRAIN_ID_TO_LABEL_ID
    return lut[np.asarray(train_ids, dtype=np.uint8)]


def train_ids_to_color(train_ids: np.ndarray) -> np.ndarray:
    """(H, W) train ids -> (H, W, 3) uint8 Cityscapes colours (ignore and 19+ -> black)."""
    return take_rows(_TRAIN_TO_COLOR, np.asarray(train_ids, dtype=np.uint8))


def label_ids_to_color(label_ids: np.ndarray) -> np.ndarray:
    """(H, W) raw label ids -> (H, W, 3) colours as in ``gtFine_color.png`` (ignored classes keep theirs)."""
    return take_rows(_ID_TO_COLOR, np.asarray(label_ids, dtype=np.uint8))


def color_to_train_ids(
    rgb: np.ndarray, tolerance: float | None = 60.0
) -> tuple[np.ndarray, np.ndarray]:
    """Decode a colour label image to train ids by the nearest palette colour.

    Handles JPEG-compressed and bilinear-resized label images (pix2pix datasets): every pixel
    takes the nearest colour of ``DECODE_PALETTE`` (Euclidean in RGB). Returns ``(train_ids,
    distance)``; ``distance`` is the Euclidean distance to the chosen colour (float32), so callers
    can refuse images whose colours match no class beyond ``tolerance``. With a tolerance, pixels
    farther than it are counted by the caller; this function only reports them.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) colours, got shape {rgb.shape}")
    # Quantised lookup: nearest palette entry for every colour in a 32^3 grid would be lossy, so
    # compute exactly on the unique colours instead (few thousand even for JPEG images).
    flat = rgb.reshape(-1, 3)
    keys = (flat[:, 0].astype(np.int32) << 16) | (flat[:, 1].astype(np.int32) << 8) | flat[:, 2]
    uniq, inverse = np.unique(keys, return_inverse=True)
    ucol = np.stack([(uniq >> 16) & 255, (uniq >> 8) & 255, uniq & 255], axis=1).astype(np.float32)
    d2 = ((ucol[:, None, :] - DECODE_PALETTE[None, :, :].astype(np.float32)) ** 2).sum(-1)
    nearest = d2.argmin(1)
    dist = np.sqrt(d2[np.arange(len(uniq)), nearest]).astype(np.float32)
    train = DECODE_TRAIN_IDS[nearest][inverse].reshape(rgb.shape[:2])
    return train, dist[inverse].reshape(rgb.shape[:2])
