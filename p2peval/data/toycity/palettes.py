"""Multimodal appearance palettes: the look of each instance, which the label map does not reveal.

Every entry is a list of modes (RGB in 0..255); an instance picks one mode, then jitters it a
little. Several well-separated modes per class make photos ambiguous given the labels, as in real
street scenes (a car may be red, blue, white or black).
"""

from __future__ import annotations

import numpy as np

RGB = tuple[int, int, int]

CAR: list[RGB] = [(175, 28, 30), (32, 60, 150), (228, 228, 226), (24, 24, 28), (150, 152, 158)]
TRUCK: list[RGB] = [(235, 235, 230), (225, 180, 30), (60, 110, 70), (210, 90, 30)]
BUS: list[RGB] = [(200, 35, 35), (235, 190, 40), (240, 240, 240), (40, 90, 170)]
TRAIN: list[RGB] = [(210, 40, 40), (240, 200, 50), (235, 235, 235), (40, 130, 90)]
MOTORCYCLE: list[RGB] = [(20, 20, 20), (190, 30, 30), (30, 70, 170), (220, 220, 220)]
BICYCLE: list[RGB] = [(30, 30, 30), (180, 40, 40), (40, 120, 200), (200, 200, 200)]
CLOTHES: list[RGB] = [(30, 30, 35), (200, 200, 205), (150, 30, 40), (40, 60, 120), (90, 110, 60),
                      (200, 160, 60), (110, 80, 60)]
SKIN: list[RGB] = [(235, 200, 170), (200, 150, 110), (120, 80, 55)]
BRICK: list[RGB] = [(150, 65, 45), (120, 55, 40), (170, 100, 70)]
PLASTER: list[RGB] = [(225, 210, 175), (205, 205, 200), (230, 190, 150), (180, 195, 175), (160, 150, 140)]
GLASS: list[RGB] = [(60, 95, 115), (95, 120, 125), (45, 60, 80)]
ROAD: list[RGB] = [(70, 70, 74), (95, 93, 92), (120, 118, 115)]
SIDEWALK: list[RGB] = [(160, 158, 152), (185, 170, 145), (165, 100, 85)]
VEGETATION: list[RGB] = [(55, 105, 35), (30, 70, 30), (115, 130, 45), (160, 110, 40)]
TERRAIN: list[RGB] = [(110, 155, 60), (150, 140, 90), (120, 95, 70)]
POLE: list[RGB] = [(120, 120, 122), (40, 55, 45), (30, 30, 32)]
FENCE: list[RGB] = [(140, 140, 145), (50, 85, 55), (125, 90, 60)]
WALL: list[RGB] = [(150, 148, 140), (175, 165, 140), (110, 105, 100)]
SIGN_FACE: list[RGB] = [(200, 30, 30), (30, 70, 170), (240, 200, 30), (240, 240, 240)]
STATIC: list[RGB] = [(60, 60, 60), (90, 70, 50), (40, 90, 60)]
GROUND: list[RGB] = [(140, 125, 100), (110, 110, 105)]

# Sky and light: clear (blue gradient, sunlit facades) or overcast (grey clouds, flat light).
SKY_CLEAR_TOP: RGB = (70, 130, 215)
SKY_CLEAR_HORIZON: RGB = (175, 205, 235)
SKY_OVERCAST_TOP: RGB = (175, 178, 185)
SKY_OVERCAST_HORIZON: RGB = (215, 215, 218)
EXPOSURES = (0.62, 0.85, 1.0, 1.22)  # brighter or darker scenes


def pick(rng: np.random.Generator, modes: list[RGB], jitter: float = 10.0) -> np.ndarray:
    """One colour: a random mode plus Gaussian jitter (float32 RGB)."""
    base = np.asarray(modes[int(rng.integers(len(modes)))], dtype=np.float32)
    return np.clip(base + rng.normal(0.0, jitter, 3), 0, 255).astype(np.float32)
