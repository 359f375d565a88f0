"""Toy-city scene plans: the street layout and every instance's look, drawn from one RNG.

A scene is a straight street seen from a car: a pinhole camera ``hc`` metres above a flat ground,
looking along the street (depth ``z``), lateral position ``x`` (metres, + is right). The road lies
between the curbs, then sidewalks (sometimes a grass strip), then facades that stand on both sides
and converge at the vanishing point. Objects (cars, people, poles, ...) are upright billboards
standing on the ground at (x, z), painted far to near. Everything here is data; ``render`` paints it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from p2peval.data.toycity import palettes as pal

Z_END = 160.0  # depth (m) where the street ends in a backdrop of far buildings and trees
Z_NEAR = 5.5  # nearest object depth (m)


@dataclass
class Camera:
    """Pinhole camera over a flat ground: ``height`` x ``width`` pixels, focal ``f`` (px)."""

    height: int
    width: int
    f: float  # focal length in pixels
    hc: float  # camera height above the ground (m)
    yh: float  # horizon row (px, may be fractional)
    xv: float  # vanishing-point column (px)


@dataclass
class Segment:
    """A stretch ``z0..z1`` of one street side: a building or a row of trees (``kind``)."""

    z0: float
    z1: float
    kind: str  # "building" or "vegetation"
    height: float  # metres
    material: str = "plaster"  # building: "brick", "plaster" or "glass"
    color: np.ndarray = field(default_factory=lambda: np.zeros(3, np.float32))
    window_spacing: float = 3.0  # metres between window centres
    floor_height: float = 3.2
    inst: int = 0


@dataclass
class Plane:
    """A fence or wall standing along the street at lateral distance ``x`` from ``z0`` to ``z1``."""

    kind: str  # "fence" or "wall"
    x: float  # lateral distance from the camera axis (m, positive)
    z0: float
    z1: float
    height: float
    color: np.ndarray
    inst: int = 0


@dataclass
class Side:
    """One side of the street (``sign`` -1 left, +1 right); distances are positive metres."""

    sign: int
    curb: float  # road edge
    facade: float  # building line
    terrain: tuple[float, float] | None  # grass strip (from, to) lateral distance, or None
    parking: bool  # a parking strip (ignored class) on the road, 2 m wide along the curb
    sidewalk_color: np.ndarray
    terrain_color: np.ndarray
    segments: list[Segment]
    planes: list[Plane]
    driveway: tuple[float, float] | None  # a 'ground' (ignored class) patch z0..z1 on the sidewalk


@dataclass
class Sprite:
    """An upright object standing on the ground at (x, z): ``kind`` names its painter."""

    kind: str
    x: float
    z: float
    colors: dict
    params: dict
    inst: int = 0


@dataclass
class Scene:
    camera: Camera
    overcast: bool
    exposure: float
    sun_side: int  # which facades are sunlit (-1 left, +1 right; 0 when overcast)
    road_color: np.ndarray
    lane_x: float  # centre line lateral position (m)
    crossing: tuple[float, float] | None  # zebra crossing depth range
    sides: tuple[Side, Side]
    backdrop: list[tuple[float, float, str, np.ndarray]]  # (x0, x1, kind, colour) at Z_END
    backdrop_heights: np.ndarray  # heights of backdrop pieces (m)
    sprites: list[Sprite]
    ego_height: float  # fraction of image height covered by the ego vehicle's hood
    ego_color: np.ndarray
    n_instances: int


class _Ids:
    def __init__(self):
        self.n = 0

    def __call__(self) -> int:
        self.n += 1
        return self.n


def _segments(rng: np.random.Generator, new_id: _Ids) -> list[Segment]:
    segs = []
    z = -1.0
    while z < Z_END:
        length = float(rng.uniform(8.0, 28.0))
        if rng.random() < 0.2:
            segs.append(Segment(z, z + length, "vegetation", float(rng.uniform(4.0, 11.0)),
                                color=pal.pick(rng, pal.VEGETATION, 12), inst=new_id()))
        else:
            material = ("brick", "plaster", "glass")[int(rng.choice(3, p=[0.35, 0.45, 0.2]))]
            color = pal.pick(rng, {"brick": pal.BRICK, "plaster": pal.PLASTER, "glass": pal.GLASS}[material], 8)
            height = float(rng.uniform(9.0, 26.0) if material != "glass" else rng.uniform(18.0, 45.0))
            segs.append(Segment(z, z + length, "building", height, material, color,
                                float(rng.uniform(2.2, 3.6)), float(rng.uniform(2.9, 3.6)), new_id()))
        z += length
    return segs


def _side(rng: np.random.Generator, sign: int, curb: float, new_id: _Ids) -> Side:
    walk = float(rng.uniform(1.8, 4.5))
    terrain = None
    facade = curb + walk
    if rng.random() < 0.45:
        w = float(rng.uniform(1.5, 4.0))
        terrain = (facade, facade + w) if rng.random() < 0.6 else (curb, curb + w)
        if terrain[0] == curb:
            facade = curb + w + walk
        else:
            facade = facade + w
    planes = []
    if rng.random() < 0.5:
        kind = "fence" if rng.random() < 0.55 else "wall"
        z0 = float(rng.uniform(2.0, 30.0))
        planes.append(Plane(kind, facade - float(rng.uniform(0.2, 1.0)), z0, z0 + float(rng.uniform(8.0, 40.0)),
                            float(rng.uniform(0.9, 1.6) if kind == "fence" else rng.uniform(0.8, 2.2)),
                            pal.pick(rng, pal.FENCE if kind == "fence" else pal.WALL, 8), new_id()))
    driveway = None
    if rng.random() < 0.3:
        z0 = float(rng.uniform(6.0, 40.0))
        driveway = (z0, z0 + float(rng.uniform(3.0, 6.0)))
    return Side(sign, curb, facade, terrain, bool(rng.random() < 0.25), pal.pick(rng, pal.SIDEWALK, 8),
                pal.pick(rng, pal.TERRAIN, 10), _segments(rng, new_id), planes, driveway)


def _person_colors(rng: np.random.Generator) -> dict:
    return {"skin": pal.pick(rng, pal.SKIN, 8), "shirt": pal.pick(rng, pal.CLOTHES, 14),
            "pants": pal.pick(rng, pal.CLOTHES, 10), "hair": pal.pick(rng, [(30, 25, 20), (90, 60, 30), (180, 150, 90)], 8)}


def _sprites(rng: np.random.Generator, sides: tuple[Side, Side], lane_x: float, new_id: _Ids) -> list[Sprite]:
    left, right = sides
    out: list[Sprite] = []

    def add(kind, x, z, colors=None, **params):
        out.append(Sprite(kind, float(x), float(z), colors or {}, params, new_id()))

    def walk_x(side: Side) -> float:
        lo = side.curb + 0.4
        return side.sign * float(rng.uniform(lo, max(lo + 0.1, side.facade - 0.5)))

    def z() -> float:
        return float(rng.uniform(Z_NEAR, 70.0))

    lanes = [(-left.curb + lane_x) / 2, (right.curb + lane_x) / 2]
    for _ in range(int(rng.integers(1, 7))):  # cars driving in the lanes (oncoming ones show their front)
        x = lanes[int(rng.integers(2))] + rng.normal(0, 0.3)
        add("car", x, z(), {"body": pal.pick(rng, pal.CAR, 8)}, front=bool(rng.random() < 0.6 and x < lane_x))
    for s in sides:  # rows of cars parked along the curbs
        if rng.random() < 0.6:
            zp = float(rng.uniform(Z_NEAR, 16.0))
            for _ in range(int(rng.integers(2, 8))):
                if rng.random() < 0.8:
                    add("car", s.sign * (s.curb - 1.1) + rng.normal(0, 0.1), zp, {"body": pal.pick(rng, pal.CAR, 8)},
                        front=bool(rng.random() < 0.3))
                zp += float(rng.uniform(4.8, 7.0))
    if rng.random() < 0.4:
        add("truck", lanes[int(rng.integers(2))], rng.uniform(9, 60), {"body": pal.pick(rng, pal.TRUCK, 8)})
    if rng.random() < 0.4:
        add("bus", lanes[int(rng.integers(2))], rng.uniform(10, 70), {"body": pal.pick(rng, pal.BUS, 8)},
            front=bool(rng.random() < 0.4))
    if rng.random() < 0.35:
        add("train", lane_x + rng.normal(0, 0.3), rng.uniform(12, 60), {"body": pal.pick(rng, pal.TRAIN, 8)})
    for _ in range(int(rng.integers(0, 9))):
        s = sides[int(rng.integers(2))]
        add("person", walk_x(s), rng.uniform(Z_NEAR, 45.0), _person_colors(rng), phase=float(rng.uniform(-1, 1)))
    if rng.random() < 0.25:  # people crossing
        for _ in range(int(rng.integers(1, 4))):
            add("person", rng.uniform(-left.curb, right.curb), rng.uniform(8, 30), _person_colors(rng),
                phase=float(rng.uniform(-1, 1)))
    for _ in range(int(rng.random() < 0.55) + int(rng.random() < 0.25)):
        s = sides[int(rng.integers(2))]
        vehicle = "bicycle" if rng.random() < 0.6 else "motorcycle"
        add("rider", s.sign * (s.curb - rng.uniform(0.6, 1.5)), rng.uniform(7, 45),
            {**_person_colors(rng), "frame": pal.pick(rng, pal.BICYCLE if vehicle == "bicycle" else pal.MOTORCYCLE, 10)},
            vehicle=vehicle, facing=int(rng.choice([-1, 1])))
    for kind in ("bicycle", "motorcycle"):
        if rng.random() < 0.3:
            s = sides[int(rng.integers(2))]
            add(kind, walk_x(s), rng.uniform(Z_NEAR, 35.0),
                {"frame": pal.pick(rng, pal.BICYCLE if kind == "bicycle" else pal.MOTORCYCLE, 10)},
                facing=int(rng.choice([-1, 1])))
    pole_color = pal.pick(rng, pal.POLE, 6)
    for _ in range(int(rng.integers(1, 6))):
        s = sides[int(rng.integers(2))]
        add("pole", s.sign * (s.curb + 0.35), z(), {"pole": pole_color}, height=float(rng.uniform(4.0, 8.0)))
    for _ in range(int(rng.integers(0, 3)) + int(rng.random() < 0.6)):
        s = sides[int(rng.integers(2))]
        add("traffic sign", s.sign * (s.curb + 0.4), rng.uniform(Z_NEAR + 1, 50.0),
            {"pole": pole_color, "face": pal.pick(rng, pal.SIGN_FACE, 6)},
            shape=str(rng.choice(["circle", "triangle", "square"])), back=bool(rng.random() < 0.3))
    for _ in range(int(rng.random() < 0.6) + int(rng.random() < 0.3)):
        s = sides[int(rng.integers(2))]
        add("traffic light", s.sign * (s.curb + 0.4), rng.uniform(10.0, 55.0), {"pole": pole_color},
            lamp=int(rng.integers(3)), arm=float(rng.uniform(2.0, 4.0)) * -s.sign if rng.random() < 0.5 else 0.0)
    for _ in range(int(rng.integers(0, 8))):
        s = sides[int(rng.integers(2))]
        x = s.sign * float(rng.uniform(*s.terrain)) if s.terrain and rng.random() < 0.6 else s.sign * (s.curb + 0.8)
        add("tree", x, z(), {"leaves": pal.pick(rng, pal.VEGETATION, 12), "trunk": pal.pick(rng, [(80, 60, 45), (60, 55, 50)], 6)},
            height=float(rng.uniform(4.5, 9.0)), crown=float(rng.uniform(1.3, 2.4)), seed=int(rng.integers(1 << 30)))
    for _ in range(int(rng.integers(0, 3))):
        s = sides[int(rng.integers(2))]
        add("static", walk_x(s), rng.uniform(Z_NEAR, 40.0), {"body": pal.pick(rng, pal.STATIC, 8)},
            w=float(rng.uniform(0.5, 1.6)), h=float(rng.uniform(0.6, 1.3)))
    out.sort(key=lambda s: -s.z)  # painter's order: far to near
    return out


def plan_scene(rng: np.random.Generator, height: int) -> Scene:
    """Draw a complete scene for an image of ``height`` x ``2 * height`` pixels."""
    width = 2 * height
    cam = Camera(height, width, f=float(width * rng.uniform(0.5, 0.6)), hc=float(rng.uniform(1.3, 1.8)),
                 yh=float(height * rng.uniform(0.36, 0.48)), xv=float(width * rng.uniform(0.4, 0.6)))
    new_id = _Ids()
    left_curb, right_curb = float(rng.uniform(2.5, 7.0)), float(rng.uniform(2.5, 8.0))
    lane_x = float((right_curb - left_curb) / 2 + rng.normal(0, 0.5))
    sides = (_side(rng, -1, left_curb, new_id), _side(rng, 1, right_curb, new_id))
    overcast = bool(rng.random() < 0.45)
    xs = np.cumsum(rng.uniform(6.0, 25.0, 40)) - 300.0
    backdrop, heights = [], []
    for x0, x1 in zip(xs[:-1], xs[1:]):
        kind = "vegetation" if rng.random() < 0.3 else "building"
        backdrop.append((float(x0), float(x1), kind,
                         pal.pick(rng, pal.VEGETATION if kind == "vegetation" else pal.PLASTER, 10) * 0.9))
        heights.append(rng.uniform(5.0, 14.0) if kind == "vegetation" else rng.uniform(10.0, 40.0))
    sprites = _sprites(rng, sides, lane_x, new_id)
    crossing = None
    if rng.random() < 0.3:
        z0 = float(rng.uniform(8.0, 25.0))
        crossing = (z0, z0 + 4.0)
    return Scene(cam, overcast, float(rng.choice(pal.EXPOSURES)), 0 if overcast else int(rng.choice([-1, 1])),
                 pal.pick(rng, pal.ROAD, 6), lane_x, crossing, sides, backdrop, np.asarray(heights, np.float32),
                 sprites, float(rng.uniform(0.06, 0.12)), pal.pick(rng, [(25, 25, 30), (180, 180, 185), (30, 40, 90)], 5),
                 new_id.n + 1)
