"""Paint a toy-city scene plan into a raw label-id map, an instance map and a photo.

Surfaces are painted back to front: sky, far backdrop, facades (column spans: every column of a
facade plane is one depth), ground (road, sidewalk, terrain, classified by world position),
fences and walls, then objects far to near, then the ego vehicle. Each surface computes its colour
only on its own pixels, from textures sampled in world coordinates (vectorised numpy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from p2peval.toycity import palettes as pal
from p2peval.toycity.scene import Z_END, Scene, Side
from p2peval.toycity.sprites import SPRITES
from p2peval.toycity.textures import Textures, sample

# Raw Cityscapes label ids.
UNLABELED, EGO, STATIC, GROUND, ROAD, SIDEWALK, PARKING = 0, 1, 4, 6, 7, 8, 9
BUILDING, WALL, FENCE, VEGETATION, TERRAIN, SKY = 11, 12, 13, 21, 22, 23


@dataclass
class Rendered:
    label_ids: np.ndarray  # (H, W) uint8 raw Cityscapes label ids
    instances: np.ndarray  # (H, W) int32, 0 = stuff without an instance
    photo: np.ndarray  # (H, W, 3) uint8 RGB


class _Canvas:
    def __init__(self, h: int, w: int):
        self.lab = np.full((h, w), SKY, np.uint8)
        self.inst = np.zeros((h, w), np.int32)
        self.photo = np.zeros((h, w, 3), np.float32)

    def put(self, ys, xs, label, rgb, inst=0):
        self.lab[ys, xs] = label
        self.inst[ys, xs] = inst
        self.photo[ys, xs] = rgb


def _frac(a):
    return a - np.floor(a)


def _sky(cv: _Canvas, sc: Scene, tex: Textures) -> np.ndarray:
    cam = sc.camera
    rows = max(1, min(cam.height, int(np.ceil(cam.yh)) + 2))
    t = np.clip(np.arange(rows, dtype=np.float32) / max(cam.yh, 1.0), 0, 1)[:, None, None] ** 1.5
    top, hor = ((pal.SKY_OVERCAST_TOP, pal.SKY_OVERCAST_HORIZON) if sc.overcast
                else (pal.SKY_CLEAR_TOP, pal.SKY_CLEAR_HORIZON))
    sky = np.asarray(top, np.float32) * (1 - t) + np.asarray(hor, np.float32) * t  # (rows, 1, 3)
    s = 64.0 / cam.height
    yy, xx = np.mgrid[0:rows, 0:cam.width].astype(np.float32)
    cloud = sample(tex.low, xx * s * 0.6, yy * s * 1.5) + 0.5 * sample(tex.mid, xx * s * 2, yy * s * 4)
    if sc.overcast:
        sky = sky * (1 + 0.06 * cloud[..., None])
    else:
        white = np.clip(cloud - 1.2, 0, 1)[..., None]
        sky = sky * (1 - white) + 235 * white
    cv.photo[:rows] = sky
    return sky[:, 0, :]  # (rows, 3) for reflections


def _backdrop(cv: _Canvas, sc: Scene, tex: Textures) -> None:
    cam = sc.camera
    x = (np.arange(cam.width, dtype=np.float32) + 0.5 - cam.xv) * Z_END / cam.f  # world x at Z_END
    edges = np.array([b[0] for b in sc.backdrop] + [sc.backdrop[-1][1]], np.float32)
    idx = np.clip(np.searchsorted(edges, x) - 1, 0, len(sc.backdrop) - 1)
    heights = sc.backdrop_heights[idx]
    top = cam.yh - (heights - cam.hc) * cam.f / Z_END
    bottom = cam.yh + cam.hc * cam.f / Z_END + 1
    r0, r1 = max(0, int(top.min())), min(cam.height, int(np.ceil(bottom)))
    if r1 <= r0:
        return
    rows = np.arange(r0, r1, dtype=np.float32)[:, None] + 0.5
    ys, xs = np.nonzero((rows >= top[None, :]) & (rows < bottom))
    ys = ys + r0
    k = idx[xs]
    kinds = np.array([b[2] == "vegetation" for b in sc.backdrop])
    colors = np.stack([b[3] for b in sc.backdrop])
    haze = np.asarray(pal.SKY_OVERCAST_HORIZON if sc.overcast else pal.SKY_CLEAR_HORIZON, np.float32)
    rgb = colors[k] * (1 + 0.08 * sample(tex.mid, xs * 0.7, ys * 0.7))[:, None]
    rgb = 0.55 * rgb + 0.45 * haze
    cv.put(ys, xs, np.where(kinds[k], VEGETATION, BUILDING).astype(np.uint8), rgb)


def _facades(cv: _Canvas, sc: Scene, tex: Textures, side: Side, sky_ref: np.ndarray) -> None:
    cam = sc.camera
    cols = np.arange(cam.width, dtype=np.float32) + 0.5
    dx = side.sign * (cols - cam.xv)
    zc = np.where(dx > 0.25, cam.f * side.facade / np.maximum(dx, 1e-3), np.inf)  # depth per column
    segs = side.segments
    z1 = np.array([s.z1 for s in segs], np.float32)
    idx = np.minimum(np.searchsorted(z1, zc), len(segs) - 1)
    valid = zc < Z_END
    height = np.array([s.height for s in segs], np.float32)[idx]
    veg = np.array([s.kind == "vegetation" for s in segs])[idx]
    zcs = np.where(valid, zc, Z_END)
    bump = np.where(veg, 0.9 * sample(tex.mid, zcs * 3.0, 17), 0.0)
    top = cam.yh - (height + bump - cam.hc) * cam.f / zcs
    bottom = cam.yh + cam.hc * cam.f / zcs
    top = np.where(valid, top, cam.height + 1)
    r1 = min(cam.height, int(np.ceil(bottom[valid].max())) + 1) if valid.any() else 0
    r0 = max(0, int(top[valid].min())) if valid.any() else 0
    if r1 <= r0:
        return
    rows = np.arange(r0, r1, dtype=np.float32)[:, None] + 0.5
    ys, xs = np.nonzero((rows >= top[None, :]) & (rows < bottom[None, :]))
    yf = ys.astype(np.float32) + r0 + 0.5
    ys = ys + r0
    z = zcs[xs]
    k = idx[xs]
    yw = cam.hc - (yf - cam.yh) * z / cam.f  # height on the facade (m)
    foot = z / cam.f  # metres per pixel
    colors = np.stack([s.color for s in segs])[k]
    material = np.array([{"brick": 0, "plaster": 1, "glass": 2}.get(s.material, 1) for s in segs])[k]
    is_veg = veg[xs]
    hgt = height[xs]
    spacing = np.array([s.window_spacing for s in segs], np.float32)[k]
    floor_h = np.array([s.floor_height for s in segs], np.float32)[k]
    inst = np.array([s.inst for s in segs], np.int32)[k]
    rgb = colors * (1 + 0.05 * sample(tex.low, z * 4, yw * 4) + 0.04 * sample(tex.fine, z * 30, yw * 30))[:, None]
    # brick courses (fade out when a course is thinner than about two pixels)
    course = yw / 0.075
    brick_z = z / 0.24 + 0.5 * (np.floor(course) % 2)
    mortar = (_frac(course) < 0.2) | (_frac(brick_z) < 0.08)
    fade = np.clip(2.0 - foot / 0.04, 0, 1)
    brick = material == 0
    bvar = 1 + 0.1 * sample(tex.mid, np.floor(brick_z) * 5, np.floor(course) * 3)
    rgb[brick] = rgb[brick] * bvar[brick, None] * (1 - fade[brick, None] * mortar[brick, None] * 0.35) \
        + (fade[brick] * mortar[brick] * 60)[:, None]
    # glass curtain walls: mullions and reflections of the sky
    glass = material == 2
    mull = (_frac(z / 1.6) < 0.06) | (_frac(yw / 3.4) < 0.07)
    refl = sky_ref[np.clip(ys, 0, len(sky_ref) - 1) // 2]
    gcol = 0.55 * colors + 0.45 * refl * (0.7 + 0.3 * sample(tex.low, z * 2, yw * 2))[:, None]
    rgb[glass] = np.where(mull[glass, None], colors[glass] * 0.45, gcol[glass])
    # windows on brick and plaster: a grid per floor, each window lit or reflecting
    wz, fy = z / spacing, yw / floor_h
    win = (~glass) & (np.abs(_frac(wz) - 0.5) < 0.2) & (_frac(fy) > 0.3) & (_frac(fy) < 0.85) \
        & (fy >= 1) & (yw < hgt - 1.0)
    hv = sample(tex.fine, np.floor(wz) * 13 + inst * 7, np.floor(fy) * 29)
    wcol = np.stack([40 + 25 * hv, 48 + 25 * hv, 58 + 30 * hv], 1) + 0.3 * refl
    wcol = np.where((hv > 1.4)[:, None], np.array([215, 190, 140], np.float32), wcol)
    rgb[win] = wcol[win]
    sill = (~glass) & (np.abs(_frac(wz) - 0.5) < 0.23) & (np.abs(_frac(fy) - 0.28) < 0.03) & (fy >= 1) & (yw < hgt - 1.0)
    rgb[sill] = 0.5 * rgb[sill] + 110
    shop = (~glass) & (yw < floor_h * 0.85) & (yw > 0.3) & (np.abs(_frac(z / 6.0) - 0.5) < 0.3)
    rgb[shop] = 0.4 * rgb[shop] + 0.35 * refl[shop]
    cornice = yw > hgt - 0.45
    rgb[cornice] *= 0.7
    # vegetation stretches (hedges, park trees)
    leaf = sample(tex.fine, z * 25, yw * 25)
    vcol = colors * (0.75 + 0.25 * leaf + 0.1 * sample(tex.mid, z * 6, yw * 6))[:, None] \
        * np.clip(0.65 + 0.35 * yw / np.maximum(hgt, 1), 0.5, 1.1)[:, None]
    rgb[is_veg] = vcol[is_veg]
    light = 0.92 if sc.sun_side == 0 else (1.12 if sc.sun_side == side.sign else 0.78)
    rgb *= light
    haze = np.asarray(pal.SKY_OVERCAST_HORIZON if sc.overcast else pal.SKY_CLEAR_HORIZON, np.float32)
    a = np.clip(z / (Z_END * 2.2), 0, 0.5)[:, None]
    rgb = rgb * (1 - a) + haze * a
    cv.put(ys, xs, np.where(is_veg, VEGETATION, BUILDING).astype(np.uint8), rgb, np.where(is_veg, 0, inst))


def _ground(cv: _Canvas, sc: Scene, tex: Textures) -> None:
    cam = sc.camera
    left, right = sc.sides
    r0 = int(np.floor(cam.yh + cam.hc * cam.f / Z_END))
    r0 = max(0, min(cam.height, r0))
    rows = np.arange(r0, cam.height, dtype=np.float32) + 0.5
    dy = np.maximum(rows - cam.yh, 1e-3)[:, None]
    X = (np.arange(cam.width, dtype=np.float32)[None, :] + 0.5 - cam.xv) * cam.hc / dy  # (rows, W)
    ys, xs = np.nonzero((X >= -left.facade) & (X <= right.facade))
    X = X[ys, xs]
    Z = cam.f * cam.hc / dy[ys, 0]
    ys = ys + r0
    n = len(X)
    label = np.full(n, SIDEWALK, np.uint8)
    rgb = np.empty((n, 3), np.float32)
    right_side = X > 0
    lat = np.abs(X)
    curb = np.where(right_side, right.curb, left.curb)
    road = lat <= curb
    foot = Z / cam.f  # metres per pixel across; along the road it is Z / (f * hc) times more
    label[road] = ROAD
    for side in (left, right):
        on = (right_side == (side.sign > 0))
        if side.parking:
            label[on & road & (lat > side.curb - 2.0)] = PARKING
        if side.terrain is not None:
            label[on & (lat >= side.terrain[0]) & (lat < side.terrain[1])] = TERRAIN
        if side.driveway is not None:
            label[on & ~road & (label == SIDEWALK) & (Z >= side.driveway[0]) & (Z < side.driveway[1])] = GROUND
    grain = sample(tex.fine, X * 40, Z * 40)
    low = sample(tex.low, X * 3, Z * 3)
    # road: asphalt with patches, lane markings, a zebra crossing
    m = (label == ROAD) | (label == PARKING)
    fade = np.clip(1.5 - foot / 0.05, 0.2, 1)
    rgb[m] = sc.road_color * (1 + 0.07 * low[m] + 0.08 * grain[m] * fade[m])[:, None]
    rgb[label == PARKING] *= 0.92
    zf = _frac(Z / 9.0)
    paint = m & (np.abs(X - sc.lane_x) < 0.07 + 0.5 * foot) & (zf < 0.4)
    paint |= m & (np.abs(lat - (curb - 0.3)) < 0.06 + 0.5 * foot)
    if sc.crossing is not None:
        paint |= m & (Z >= sc.crossing[0]) & (Z < sc.crossing[1]) & (_frac(X / 1.0) < 0.5)
    stall = (label == PARKING) & (_frac(Z / 5.5) < 0.03 + 0.5 * foot * Z / cam.hc / 5.5)
    paint |= stall
    rgb[paint] = 0.2 * rgb[paint] + 180
    # sidewalk: paving slabs and a curb stone
    for side in (left, right):
        on = (right_side == (side.sign > 0))
        s = on & (label == SIDEWALK)
        slab = (_frac(X / 0.6) < 0.06) | (_frac(Z / 0.6) < 0.06 * (1 + foot[...] * 0))
        sf = np.clip(1.5 - foot / 0.03, 0, 1)
        rgb[s] = side.sidewalk_color * (1 + 0.05 * low[s] + 0.06 * grain[s] - 0.18 * (slab[s] * sf[s]))[:, None]
        cs = s & (lat < side.curb + 0.25)
        rgb[cs] = rgb[cs] * 0.6 + 80
        t = on & (label == TERRAIN)
        tcol = side.terrain_color * (1 + 0.2 * sample(tex.fine, X * 60, Z * 60) + 0.1 * low)[:, None]
        rgb[t] = tcol[t]
    g = label == GROUND
    rgb[g] = np.asarray(pal.GROUND[0], np.float32) * (1 + 0.08 * grain[g])[:, None]
    haze = np.asarray(pal.SKY_OVERCAST_HORIZON if sc.overcast else pal.SKY_CLEAR_HORIZON, np.float32)
    a = np.clip(Z / (Z_END * 2.2), 0, 0.5)[:, None]
    rgb = rgb * (1 - a) + haze * a
    cv.put(ys, xs, label, rgb)


def _planes(cv: _Canvas, sc: Scene, tex: Textures, side: Side) -> None:
    cam = sc.camera
    cols = np.arange(cam.width, dtype=np.float32) + 0.5
    dx = side.sign * (cols - cam.xv)
    for pl in side.planes:
        zc = np.where(dx > 0.25, cam.f * pl.x / np.maximum(dx, 1e-3), np.inf)
        valid = (zc >= pl.z0) & (zc < pl.z1)
        if not valid.any():
            continue
        zcs = np.where(valid, zc, 1.0)
        top = np.where(valid, cam.yh - (pl.height - cam.hc) * cam.f / zcs, cam.height + 1)
        bottom = np.where(valid, cam.yh + cam.hc * cam.f / zcs, -1)
        r0, r1 = max(0, int(top.min())), min(cam.height, int(np.ceil(bottom.max())) + 1)
        if r1 <= r0:
            continue
        rows = np.arange(r0, r1, dtype=np.float32)[:, None] + 0.5
        ys, xs = np.nonzero((rows >= top[None, :]) & (rows < bottom[None, :]))
        yf = ys + r0 + 0.5
        ys = ys + r0
        z = zcs[xs]
        yw = cam.hc - (yf - cam.yh) * z / cam.f
        foot = z / cam.f
        if pl.kind == "fence":
            bars = (_frac(z / 2.5) < 0.05) | (np.abs(yw - pl.height + 0.05) < 0.05) | (yw < 0.1)
            mesh = (_frac((z + yw) / 0.25) < 0.25) | (_frac((z - yw) / 0.25) < 0.25)
            fade = np.clip(1.5 - foot / 0.02, 0, 1)
            behind = cv.photo[ys, xs] * 0.55
            rgb = np.where(bars[:, None], pl.color * 1.05,
                           behind * (1 - 0.5 * fade[:, None]) + pl.color * (0.35 + 0.5 * fade * mesh)[:, None] * 0.8)
            cv.put(ys, xs, FENCE, rgb, pl.inst)
        else:
            cap = yw > pl.height - 0.12
            rgb = pl.color * (1 + 0.1 * sample(tex.mid, z * 12, yw * 12) + 0.05 * sample(tex.fine, z * 50, yw * 50))[:, None]
            rgb[cap] = rgb[cap] * 0.8 + 30
            cv.put(ys, xs, WALL, rgb, pl.inst)


def _sprites(cv: _Canvas, sc: Scene, tex: Textures) -> None:
    cam = sc.camera
    for sp in sc.sprites:
        kind = SPRITES.get(sp.kind)
        s = cam.f / sp.z  # pixels per metre
        cx, yb = cam.xv + sp.x * s, cam.yh + cam.hc * s
        x0, x1, top = kind.extent(sp)
        c0, c1 = max(0, int(np.floor(cx + x0 * s))), min(cam.width, int(np.ceil(cx + x1 * s)))
        r0, r1 = max(0, int(np.floor(yb - top * s))), min(cam.height, int(np.ceil(yb)) + 1)
        if c1 <= c0 or r1 <= r0 or top * s < 2.0:
            continue
        lx = ((np.arange(c0, c1, dtype=np.float32) + 0.5 - cx) / s)[None, :]  # (1, w) metres
        ly = ((yb - (np.arange(r0, r1, dtype=np.float32) + 0.5)) / s)[:, None]  # (h, 1) metres
        lab = cv.lab[r0:r1, c0:c1]
        photo = cv.photo[r0:r1, c0:c1]
        inst = cv.inst[r0:r1, c0:c1]
        if kind.shadow:
            sh = ((lx / (kind.shadow * 1.15)) ** 2 + ((ly + 0.05) / 0.22) ** 2) < 1
            photo[sh] *= 0.55 if sc.sun_side else 0.7
        for mask, label, rgb in kind.paint(lx, ly, sp, tex):
            mask = np.broadcast_to(mask, lab.shape)
            if not mask.any():
                continue
            lab[mask] = label
            inst[mask] = sp.inst
            photo[mask] = np.broadcast_to(np.asarray(rgb, np.float32), photo.shape)[mask]


def _ego(cv: _Canvas, sc: Scene) -> None:
    cam = sc.camera
    h, w = cam.height, cam.width
    u = (np.arange(w, dtype=np.float32) + 0.5 - w / 2) / (w / 2)
    top = h * (1 - sc.ego_height * (1 - 0.45 * u ** 2))
    r0 = int(top.min())
    rows = np.arange(r0, h, dtype=np.float32)[:, None] + 0.5
    hood = rows >= top[None, :]
    ys, xs = np.nonzero(hood)
    t = (ys + 0.5 - top[xs]) / max(sc.ego_height * h, 1)
    rgb = sc.ego_color * (0.8 + 0.3 * t)[:, None] + 25 * np.exp(-((u[xs] - 0.3) / 0.15) ** 2)[:, None]
    cv.put(ys + r0, xs, EGO, rgb)
    corner = (np.abs(u) > 0.88)[None, :] & (rows > h - 0.35 * sc.ego_height * h)
    ys, xs = np.nonzero(corner)
    cv.put(ys + r0, xs, UNLABELED, np.float32(8))


def render_scene(sc: Scene, tex: Textures, noise_offset: tuple[int, int] = (0, 0)) -> Rendered:
    """Paint ``sc`` into label ids, instances and an 8-bit photo."""
    cam = sc.camera
    cv = _Canvas(cam.height, cam.width)
    sky_ref = _sky(cv, sc, tex)
    _backdrop(cv, sc, tex)
    for side in sc.sides:
        _facades(cv, sc, tex, side, sky_ref)
    _ground(cv, sc, tex)
    for side in sc.sides:
        _planes(cv, sc, tex, side)
    _sprites(cv, sc, tex)
    _ego(cv, sc)
    photo = cv.photo * sc.exposure
    n = tex.sensor.shape[0]
    oy, ox = noise_offset
    ri = (np.arange(cam.height) + oy) % n
    ci = (np.arange(cam.width) + ox) % n
    photo += 3.5 * tex.sensor[ri[:, None], ci[None, :]]
    photo = np.clip(photo + 0.5, 0, 255).astype(np.uint8)
    return Rendered(cv.lab, cv.inst, photo)
