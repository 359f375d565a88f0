"""Painters of upright objects (cars, people, poles, ...) in their own metric coordinates.

A painter receives ``lx`` (1, w) metres right of the object's centre and ``ly`` (h, 1) metres above
the ground for the pixels of its bounding box, and returns layers ``(mask, label_id, rgb)`` painted
in order (later layers cover earlier ones). ``rgb`` is (3,) or broadcastable to (h, w, 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from p2peval.core.registry import Registry
from p2peval.data.toycity.scene import Sprite
from p2peval.data.toycity.textures import Textures, sample

Layer = tuple[np.ndarray, int, np.ndarray]

# Raw Cityscapes label ids used here.
STATIC, POLE, LIGHT, SIGN, VEGETATION, PERSON, RIDER = 4, 17, 19, 20, 21, 24, 25
CAR, TRUCK, BUS, TRAIN, MOTORCYCLE, BICYCLE = 26, 27, 28, 31, 32, 33


@dataclass(frozen=True)
class SpriteKind:
    """``extent(sprite) -> (xmin, xmax, top)`` in metres; ``paint(lx, ly, sprite, tex) -> layers``."""

    extent: Callable[[Sprite], tuple[float, float, float]]
    paint: Callable[[np.ndarray, np.ndarray, Sprite, Textures], list[Layer]]
    shadow: float = 0.0  # half-width (m) of the shadow it casts on the ground; 0 = none


SPRITES: Registry[SpriteKind] = Registry("toy-city object")


def rect(lx, ly, x0, x1, y0, y1):
    return (lx >= x0) & (lx < x1) & (ly >= y0) & (ly < y1)


def disk(lx, ly, cx, cy, r):
    return (lx - cx) ** 2 + (ly - cy) ** 2 < r * r


def segment(lx, ly, p, q, width):
    """Pixels within ``width / 2`` of the segment p-q."""
    px, py = p
    dx, dy = q[0] - px, q[1] - py
    t = np.clip(((lx - px) * dx + (ly - py) * dy) / (dx * dx + dy * dy + 1e-12), 0.0, 1.0)
    return (lx - px - t * dx) ** 2 + (ly - py - t * dy) ** 2 < (width / 2) ** 2


def _c(rgb) -> np.ndarray:
    return np.asarray(rgb, dtype=np.float32)


def _vshade(ly, top, lo=0.7, hi=1.08):
    """Light from above: darker near the ground. (h, 1, 1)"""
    return (lo + (hi - lo) * np.clip(ly / top, 0, 1))[..., None]


def _grain(tex: Textures, lx, ly, k: float, amp: float, seed: int) -> np.ndarray:
    """(h, w, 1) multiplicative grain from the fine tile in object coordinates."""
    return (1.0 + amp * sample(tex.fine, lx * k + seed * 37, ly * k + seed * 11))[..., None]


# ----------------------------------------------------------------------------------------- vehicles
def _car(lx, ly, sp, tex):
    body = sp.colors["body"]
    front = sp.params.get("front", False)
    shade = _vshade(ly, 1.5, 0.65, 1.1) * _grain(tex, lx, ly, 40, 0.03, sp.inst)
    halfw = 0.76 - 0.22 * (ly - 0.95) / 0.5
    out = [
        (rect(lx, ly, -0.9, 0.9, 0.2, 0.95) & ~((np.abs(lx) > 0.8) & (ly > 0.85)), CAR, body * shade),
        ((ly >= 0.95) & (ly < 1.47) & (np.abs(lx) < halfw), CAR, body * shade * 0.95),
        (rect(lx, ly, -0.9, 0.9, 0.2, 0.36), CAR, _c((38, 38, 40))),
        ((ly < 0.34) & (np.abs(lx) > 0.52) & (np.abs(lx) < 0.86), CAR, _c((18, 18, 20))),
        ((ly >= 1.0) & (ly < 1.4) & (np.abs(lx) < halfw - 0.08), CAR,
         (_c((35, 42, 52)) + 90 * np.clip(ly - 1.0, 0, 1)[..., None] * _c((1, 1.1, 1.2)))
         * _grain(tex, lx, ly, 12, 0.08, sp.inst + 3)),
        (rect(lx, ly, -0.86, -0.6, 0.68, 0.82) | rect(lx, ly, 0.6, 0.86, 0.68, 0.82), CAR,
         _c((235, 235, 215)) if front else _c((200, 25, 20))),
        (rect(lx, ly, -0.25, 0.25, 0.42, 0.55), CAR, _c((225, 225, 218))),
        (rect(lx, ly, -0.9, 0.9, 0.9, 0.95), CAR, np.minimum(body * 1.25 + 30, 255)),
    ]
    return out


def _truck(lx, ly, sp, tex):
    body = sp.colors["body"]
    shade = _vshade(ly, 3.4, 0.75, 1.05) * _grain(tex, lx, ly, 30, 0.04, sp.inst)
    return [
        (rect(lx, ly, -1.25, 1.25, 0.55, 3.4), TRUCK, body * shade),
        (rect(lx, ly, -0.02, 0.02, 0.6, 3.35) | (rect(lx, ly, -1.25, 1.25, 0.55, 3.4)
                                               & (np.mod(ly, 0.7) < 0.04)), TRUCK, body * shade * 0.7),
        (rect(lx, ly, -1.2, 1.2, 0.3, 0.6), TRUCK, _c((35, 35, 38))),
        ((ly < 0.5) & (np.abs(lx) > 0.55) & (np.abs(lx) < 1.15), TRUCK, _c((18, 18, 20))),
        (rect(lx, ly, -1.2, -0.95, 0.62, 0.75) | rect(lx, ly, 0.95, 1.2, 0.62, 0.75), TRUCK, _c((210, 40, 25))),
    ]


def _bus(lx, ly, sp, tex):
    body = sp.colors["body"]
    front = sp.params.get("front", False)
    shade = _vshade(ly, 3.1, 0.75, 1.05) * _grain(tex, lx, ly, 30, 0.03, sp.inst)
    glass = (_c((30, 38, 48)) + 70 * np.clip((ly - 1.3) / 1.3, 0, 1)[..., None]) * _grain(tex, lx, ly, 8, 0.1, sp.inst)
    win_lo = 1.0 if front else 1.6
    out = [
        (rect(lx, ly, -1.27, 1.27, 0.3, 3.1), BUS, body * shade),
        (rect(lx, ly, -1.15, 1.15, win_lo, 2.6), BUS, glass),
        (rect(lx, ly, -0.9, 0.9, 2.68, 2.95), BUS, _c((20, 20, 20)) + _c((180, 110, 0)) *
         (sample(tex.fine, lx * 30 + sp.inst, ly * 30)[..., None] > 0.6)),
        ((ly < 0.45) & (np.abs(lx) > 0.6) & (np.abs(lx) < 1.15), BUS, _c((18, 18, 20))),
        (rect(lx, ly, -1.2, -0.95, 0.5, 0.7) | rect(lx, ly, 0.95, 1.2, 0.5, 0.7), BUS,
         _c((235, 235, 210)) if front else _c((200, 30, 25))),
    ]
    return out


def _train(lx, ly, sp, tex):
    body = sp.colors["body"]
    shade = _vshade(ly, 3.5, 0.75, 1.05) * _grain(tex, lx, ly, 30, 0.03, sp.inst)
    rounded = (ly < 3.1) | ((np.abs(lx) / 1.32) ** 2 + ((ly - 3.1) / 0.45) ** 2 < 1)
    glass = (_c((30, 38, 48)) + 80 * np.clip((ly - 1.6) / 1.4, 0, 1)[..., None]) * _grain(tex, lx, ly, 8, 0.1, sp.inst)
    return [
        (rect(lx, ly, -1.32, 1.32, 0.35, 3.55) & rounded, TRAIN, body * shade),
        (rect(lx, ly, -1.32, 1.32, 0.35, 0.8), TRAIN, body * shade * 0.55),
        (rect(lx, ly, -1.1, 1.1, 1.6, 3.0), TRAIN, glass),
        (segment(lx, ly, (0.0, 3.5), (-0.5, 3.95), 0.05) | segment(lx, ly, (0.0, 3.5), (0.5, 3.95), 0.05)
         | rect(lx, ly, -0.7, 0.7, 3.93, 4.0), TRAIN, _c((40, 40, 40))),
        (disk(lx, ly, -0.9, 1.1, 0.12) | disk(lx, ly, 0.9, 1.1, 0.12), TRAIN, _c((240, 240, 220))),
        (rect(lx, ly, -1.2, 1.2, 0.0, 0.35), TRAIN, _c((25, 25, 25))),
    ]


# ------------------------------------------------------------------------------------------ people
def _person_layers(lx, ly, c, label, tex, inst, phase=0.0, top=1.75):
    k = top / 1.75
    legs = (segment(lx, ly, (0.0, 0.9 * k), (0.1 * phase, 0.0), 0.15 * k)
            | segment(lx, ly, (0.0, 0.9 * k), (-0.1 * phase, 0.0), 0.15 * k))
    torso = (ly >= 0.85 * k) & (ly < 1.48 * k) & (np.abs(lx) < (0.15 + 0.06 * (ly / k - 0.85) / 0.6) * k)
    arms = (segment(lx, ly, (-0.2 * k, 1.42 * k), (-0.24 * k - 0.05 * phase, 0.85 * k), 0.1 * k)
            | segment(lx, ly, (0.2 * k, 1.42 * k), (0.24 * k + 0.05 * phase, 0.85 * k), 0.1 * k))
    head = disk(lx, ly, 0.0, 1.62 * k, 0.11 * k)
    hair = head & (ly > 1.64 * k)
    g = _grain(tex, lx, ly, 50, 0.06, inst)
    return [(legs, label, c["pants"] * g), (torso | arms, label, c["shirt"] * g * _vshade(ly, top, 0.8, 1.1)),
            (head, label, c["skin"]), (hair, label, c["hair"])]


def _person(lx, ly, sp, tex):
    return _person_layers(lx, ly, sp.colors, PERSON, tex, sp.inst, sp.params.get("phase", 0.0))


def _bicycle_layers(lx, ly, frame):
    w = 0.05
    wheels = (np.abs(np.sqrt((lx - 0.55) ** 2 + (ly - 0.34) ** 2) - 0.31) < 0.035) | \
             (np.abs(np.sqrt((lx + 0.55) ** 2 + (ly - 0.34) ** 2) - 0.31) < 0.035)
    spokes = (disk(lx, ly, 0.55, 0.34, 0.31) | disk(lx, ly, -0.55, 0.34, 0.31)) & \
             ((np.abs(ly - 0.34) < 0.012) | (np.abs(np.abs(lx) - 0.55) < 0.012))
    tubes = (segment(lx, ly, (-0.1, 0.38), (-0.2, 0.9), w) | segment(lx, ly, (-0.2, 0.9), (0.4, 0.92), w)
             | segment(lx, ly, (-0.1, 0.38), (0.4, 0.92), w) | segment(lx, ly, (-0.1, 0.38), (-0.55, 0.34), w)
             | segment(lx, ly, (-0.2, 0.9), (-0.55, 0.34), w) | segment(lx, ly, (0.4, 0.92), (0.55, 0.34), w)
             | segment(lx, ly, (0.4, 0.92), (0.35, 1.08), w) | rect(lx, ly, -0.32, -0.1, 0.9, 0.96))
    return [(wheels | spokes, BICYCLE, _c((25, 25, 25))), (tubes, BICYCLE, frame)]


def _motorcycle_layers(lx, ly, frame, tex, inst):
    tyres = disk(lx, ly, 0.7, 0.32, 0.32) | disk(lx, ly, -0.7, 0.32, 0.32)
    rims = disk(lx, ly, 0.7, 0.32, 0.18) | disk(lx, ly, -0.7, 0.32, 0.18)
    body = ((lx / 0.62) ** 2 + ((ly - 0.62) / 0.24) ** 2 < 1) | rect(lx, ly, -0.3, 0.3, 0.3, 0.6)
    return [(tyres, MOTORCYCLE, _c((22, 22, 22))), (rims, MOTORCYCLE, _c((150, 150, 155))),
            (body, MOTORCYCLE, frame * _grain(tex, lx, ly, 30, 0.05, inst) * _vshade(ly, 0.9, 0.7, 1.15)),
            (rect(lx, ly, -0.4, 0.1, 0.82, 0.9) | segment(lx, ly, (0.45, 0.7), (0.55, 1.05), 0.06),
             MOTORCYCLE, _c((25, 25, 25)))]


def _rider(lx, ly, sp, tex):
    lx = lx * sp.params.get("facing", 1)
    c = sp.colors
    g = _grain(tex, lx, ly, 50, 0.06, sp.inst)
    if sp.params.get("vehicle") == "motorcycle":
        layers = _motorcycle_layers(lx, ly, c["frame"], tex, sp.inst)
        hip, shoulder, hand, knee, foot, head = (-0.15, 0.92), (0.1, 1.45), (0.5, 1.05), (0.2, 0.7), (0.12, 0.42), (0.15, 1.62)
        helmet = c["frame"]
    else:
        layers = _bicycle_layers(lx, ly, c["frame"])
        hip, shoulder, hand, knee, foot, head = (-0.2, 0.98), (0.1, 1.5), (0.35, 1.08), (0.05, 0.7), (-0.08, 0.4), (0.18, 1.68)
        helmet = c["hair"]
    body = segment(lx, ly, hip, shoulder, 0.3)
    legs = segment(lx, ly, hip, knee, 0.14) | segment(lx, ly, knee, foot, 0.12)
    arm = segment(lx, ly, shoulder, hand, 0.09)
    return layers + [(legs, RIDER, c["pants"] * g), (body | arm, RIDER, c["shirt"] * g),
                     (disk(lx, ly, head[0], head[1], 0.12), RIDER, c["skin"]),
                     (disk(lx, ly, head[0], head[1] + 0.03, 0.12) & (ly > head[1] + 0.01), RIDER, helmet)]


def _parked_bicycle(lx, ly, sp, tex):
    return _bicycle_layers(lx * sp.params.get("facing", 1), ly, sp.colors["frame"])


def _parked_motorcycle(lx, ly, sp, tex):
    return _motorcycle_layers(lx * sp.params.get("facing", 1), ly, sp.colors["frame"], tex, sp.inst)


# ---------------------------------------------------------------------------- street furniture
def _pole_rgb(lx, color, r):
    return color * (0.75 + 0.4 * np.clip(1 - (lx / r) ** 2, 0, 1))[..., None]


def _pole(lx, ly, sp, tex):
    return [((np.abs(lx) < 0.08) & (ly < sp.params["height"]), POLE, _pole_rgb(lx, sp.colors["pole"], 0.08))]


def _sign(lx, ly, sp, tex):
    cy, r = 2.5, 0.38
    shape = sp.params["shape"]
    if shape == "circle":
        face = disk(lx, ly, 0, cy, r)
        inner = disk(lx, ly, 0, cy, r * 0.72)
    elif shape == "triangle":
        face = (ly > cy - r) & (np.abs(lx) < (cy + r - ly) * 0.6)
        inner = (ly > cy - r + 0.07) & (np.abs(lx) < (cy + r - 0.1 - ly) * 0.6 - 0.04)
    else:
        face = rect(lx, ly, -r, r, cy - r, cy + r)
        inner = rect(lx, ly, -r + 0.05, r - 0.05, cy - r + 0.05, cy + r - 0.05)
    layers = [((np.abs(lx) < 0.045) & (ly < cy), POLE, _pole_rgb(lx, sp.colors["pole"], 0.045))]
    if sp.params.get("back"):
        return layers + [(face, SIGN, _c((150, 150, 150)) * _grain(tex, lx, ly, 40, 0.05, sp.inst))]
    return layers + [(face, SIGN, sp.colors["face"]), (inner, SIGN, _c((235, 235, 235))),
                     (inner & rect(lx, ly, -0.15, 0.15, cy - 0.05, cy + 0.05), SIGN, _c((30, 30, 30)))]


def _light_extent(sp):
    arm = sp.params["arm"]
    return min(0.0, arm) - 0.25, max(0.0, arm) + 0.25, 5.3 if arm else 3.7


def _light(lx, ly, sp, tex):
    arm = sp.params["arm"]
    top, bx, by = (5.2, arm, 4.0) if arm else (2.6, 0.0, 2.6)
    pole = (np.abs(lx) < 0.07) & (ly < top)
    if arm:
        pole |= segment(lx, ly, (0.0, 5.1), (arm, 5.1), 0.1) | rect(lx, ly, arm - 0.03, arm + 0.03, 4.9, 5.1)
    box = rect(lx, ly, bx - 0.18, bx + 0.18, by, by + 0.95)
    lit = sp.params["lamp"]
    layers = [(pole, POLE, _pole_rgb(lx, sp.colors["pole"], 0.07)), (box, LIGHT, _c((28, 30, 28)))]
    for i, col in enumerate(((220, 30, 20), (240, 170, 20), (40, 220, 90))):
        lamp = disk(lx, ly, bx, by + 0.78 - 0.3 * i, 0.1)
        layers.append((lamp, LIGHT, _c(col) if i == lit else _c((55, 55, 50))))
    return layers


def _tree_blobs(sp):
    rng = np.random.default_rng(sp.params["seed"])
    h, c = sp.params["height"], sp.params["crown"]
    return [(float(rng.uniform(-0.5, 0.5) * c), float(h - c + rng.uniform(-0.4, 0.4) * c), float(rng.uniform(0.55, 0.85) * c))
            for _ in range(4)]


def _tree(lx, ly, sp, tex):
    h, c = sp.params["height"], sp.params["crown"]
    d = np.full(np.broadcast_shapes(lx.shape, ly.shape), np.inf, dtype=np.float32)
    for bx, by, r in _tree_blobs(sp):
        d = np.minimum(d, np.sqrt((lx - bx) ** 2 + (ly - by) ** 2) / r)
    crown = d < 1.0 + 0.18 * sample(tex.mid, lx * 12 + sp.inst * 5, ly * 12)
    leaves = sp.colors["leaves"] * (1 + 0.3 * sample(tex.fine, lx * 40 + sp.inst, ly * 40))[..., None] \
        * (0.7 + 0.4 * np.clip((ly - (h - 2 * c)) / (2 * c), 0, 1))[..., None]
    trunk = (np.abs(lx) < 0.13 + 0.05 * (ly < 0.3)) & (ly < h - c)
    return [(trunk, VEGETATION, sp.colors["trunk"] * _grain(tex, lx, ly, 30, 0.1, sp.inst)), (crown, VEGETATION, leaves)]


def _static(lx, ly, sp, tex):
    w, h = sp.params["w"], sp.params["h"]
    body = sp.colors["body"] * _grain(tex, lx, ly, 30, 0.06, sp.inst) * _vshade(ly, h, 0.7, 1.05)
    return [(rect(lx, ly, -w / 2, w / 2, 0.0, h), STATIC, body),
            (rect(lx, ly, -w / 2, w / 2, h - 0.08, h), STATIC, sp.colors["body"] * 0.6)]


SPRITES.register("car", SpriteKind(lambda s: (-0.92, 0.92, 1.5), _car, 1.0))
SPRITES.register("truck", SpriteKind(lambda s: (-1.27, 1.27, 3.4), _truck, 1.35))
SPRITES.register("bus", SpriteKind(lambda s: (-1.28, 1.28, 3.1), _bus, 1.35))
SPRITES.register("train", SpriteKind(lambda s: (-1.35, 1.35, 4.0), _train, 1.4))
SPRITES.register("person", SpriteKind(lambda s: (-0.35, 0.35, 1.8), _person, 0.3))
SPRITES.register("rider", SpriteKind(lambda s: (-1.05, 1.05, 1.82), _rider, 0.8))
SPRITES.register("bicycle", SpriteKind(lambda s: (-0.9, 0.9, 1.1), _parked_bicycle, 0.0))
SPRITES.register("motorcycle", SpriteKind(lambda s: (-1.05, 1.05, 1.1), _parked_motorcycle, 0.9))
SPRITES.register("pole", SpriteKind(lambda s: (-0.09, 0.09, s.params["height"]), _pole, 0.0))
SPRITES.register("traffic sign", SpriteKind(lambda s: (-0.4, 0.4, 2.9), _sign, 0.0))
SPRITES.register("traffic light", SpriteKind(_light_extent, _light, 0.0))
SPRITES.register("tree", SpriteKind(lambda s: (-s.params["crown"] * 1.4, s.params["crown"] * 1.4,
                                               s.params["height"] + 0.4 * s.params["crown"]), _tree, 0.0))
SPRITES.register("static", SpriteKind(lambda s: (-s.params["w"] / 2, s.params["w"] / 2, s.params["h"]), _static, 0.0))
