"""Paint a toy-city scene plan into a raw label-id map, an instance map and a photo.

Surfaces are painted back to front: sky, far backdrop, facades (column spans: every column of a
facade plane is one depth), ground (road, sidewalk, terrain, classified by world position),
fences and walls, then objects far to near, then the ego vehicle. Each surface computes its colour
only on its own pixels, from textures sampled in world coordinates (vectorised numpy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from p2peval.core.arrays import take_rows
from p2peval.data.toycity import palettes as pal
from p2peval.data.toycity.scene import Z_END, Scene, Side
from p2peval.data.toycity.sprites import SPRITES
from p2peval.data.toycity.textures import Textures, sample

# Raw Cityscapes label ids.
UNLABELED, EGO, STATIC, GROUND, ROAD, SIDEWALK, PARKING = 0, 1, 4, 6, 7, 8, 9
BUILDING, WALL, FENCE, VEGETATION, TERRAIN, SKY = 11, 12, 13, 21, 22, 23


@dataclass
class Rendered:
    label_ids: np.ndarray  # (H, W) uint8 raw Cityscapes label ids
    instances: np.ndarray | None  # (H, W) int32, 0 = stuff without an instance (None: not drawn)
    photo: np.ndarray  # (H, W, 3) uint8 RGB


_PIXEL = np.dtype((np.void, 12))  # one float32 RGB pixel


class _Canvas:
    def __init__(self, h: int, w: int, instances: bool = True):
        self.lab = np.full((h, w), SKY, np.uint8)
        self.inst = np.zeros((h, w), np.int32) if instances else None
        self.photo = np.zeros((h, w, 3), np.float32)

    def put(self, ys, xs, label, rgb, inst=0):
        """Paint pixels (ys, xs) (1-D index arrays)."""
        flat = ys * self.lab.shape[1] + xs
        self.lab.reshape(-1)[flat] = label
        if self.inst is not None:
            self.inst.reshape(-1)[flat] = inst
        rgb = np.ascontiguousarray(np.broadcast_to(np.asarray(rgb, np.float32), (len(flat), 3)))
        # scatter whole pixels (12-byte records): much faster than a (N, 3) fancy assignment
        self.photo.reshape(-1, 3).view(_PIXEL).reshape(-1)[flat] = rgb.view(_PIXEL).reshape(-1)


def _frac(a):
    return a - np.floor(a)


def _spans(lo: np.ndarray, hi: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixels of per-line spans: line i covers [lo[i], hi[i]) (clipped to [0, n)).

    Returns (line, position) index arrays; used for facades (column spans of rows) and the
    ground (row spans of columns), avoiding full-image masks.
    """
    lo = np.clip(np.nan_to_num(lo, nan=n, posinf=n, neginf=0), 0, n).astype(np.int64)
    hi = np.clip(np.nan_to_num(hi, nan=0, posinf=n, neginf=0), 0, n).astype(np.int64)
    counts = np.maximum(hi - lo, 0)
    line = np.repeat(np.arange(len(lo)), counts)
    starts = np.cumsum(counts) - counts
    pos = np.arange(int(counts.sum())) - np.repeat(starts - lo, counts)
    return line, pos


def _column_spans(top: np.ndarray, bottom: np.ndarray, h: int) -> tuple[np.ndarray, np.ndarray]:
    """(ys, xs) of pixels whose centre row r + 0.5 lies in [top[x], bottom[x])."""
    xs, ys = _spans(np.ceil(top - 0.5), np.ceil(bottom - 0.5), h)
    return ys, xs


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
    ys, xs = _column_spans(top, np.full_like(top, bottom), cam.height)
    k = idx[xs]
    kinds = np.array([b[2] == "vegetation" for b in sc.backdrop])
    colors = np.stack([b[3] for b in sc.backdrop])
    haze = np.asarray(pal.SKY_OVERCAST_HORIZON if sc.overcast else pal.SKY_CLEAR_HORIZON, np.float32)
    rgb = colors[k] * (1 + 0.08 * sample(tex.mid, xs * 0.7, ys * 0.7))[:, None]
    rgb = 0.55 * rgb + 0.45 * haze
    cv.put(ys, xs, np.where(kinds[k], VEGETATION, BUILDING).astype(np.uint8), rgb)


def _brick(rgb, z, yw, foot, tex):
    """Brick courses 7.5 cm high with mortar, fading out when a course is under ~2 pixels."""
    course = yw / 0.075
    cf = np.floor(course)
    brick_z = z / 0.24 + 0.5 * (cf % 2)
    mortar = (_frac(course) < 0.2) | (_frac(brick_z) < 0.08)
    fm = (np.clip(2.0 - foot / 0.04, 0, 1) * mortar)[:, None]
    bvar = 1 + 0.1 * sample(tex.mid, np.floor(brick_z) * 5, cf * 3)
    return rgb * bvar[:, None] * (1 - 0.35 * fm) + 60 * fm


def _glass(colors, z, yw, refl, tex):
    """Curtain wall: mullions and panes reflecting the sky."""
    mull = (_frac(z / 1.6) < 0.06) | (_frac(yw / 3.4) < 0.07)
    g = 0.55 * colors + 0.45 * refl * (0.7 + 0.3 * sample(tex.low, z * 2, yw * 2))[:, None]
    return np.where(mull[:, None], colors * 0.45, g)


def _windows(rgb, z, yw, hgt, spacing, floor_h, inst, refl, tex):
    """A grid of windows per floor (each lit or reflecting), sills, and shop fronts."""
    wz, fy = z / spacing, yw / floor_h
    fwz, ffy = np.abs(_frac(wz) - 0.5), _frac(fy)
    upper = (fy >= 1) & (yw < hgt - 1.0)
    w = np.nonzero((fwz < 0.2) & (ffy > 0.3) & (ffy < 0.85) & upper)[0]
    hv = sample(tex.fine, np.floor(wz[w]) * 13 + inst[w] * 7, np.floor(fy[w]) * 29)
    wcol = np.stack([40 + 25 * hv, 48 + 25 * hv, 58 + 30 * hv], 1) + 0.3 * refl[w]
    rgb[w] = np.where((hv > 1.4)[:, None], np.array([215, 190, 140], np.float32), wcol)
    sill = np.nonzero((fwz < 0.23) & (np.abs(ffy - 0.28) < 0.03) & upper)[0]
    rgb[sill] = 0.5 * rgb[sill] + 110
    shop = np.nonzero((yw < floor_h * 0.85) & (yw > 0.3) & (np.abs(_frac(z / 6.0) - 0.5) < 0.3))[0]
    rgb[shop] = 0.4 * rgb[shop] + 0.35 * refl[shop]
    return rgb


def _haze(sc: Scene) -> np.ndarray:
    return np.asarray(pal.SKY_OVERCAST_HORIZON if sc.overcast else pal.SKY_CLEAR_HORIZON, np.float32)


def _facades(cv: _Canvas, sc: Scene, tex: Textures, side: Side, sky_ref: np.ndarray) -> None:
    cam = sc.camera
    cols = np.arange(cam.width, dtype=np.float32) + 0.5
    dx = side.sign * (cols - cam.xv)
    zc = np.where(dx > 0.25, cam.f * side.facade / np.maximum(dx, 1e-3), np.inf)  # depth per column
    valid = zc < Z_END
    if not valid.any():
        return
    segs = side.segments
    z1 = np.array([s.z1 for s in segs], np.float32)
    idx = np.minimum(np.searchsorted(z1, zc), len(segs) - 1)  # segment per column
    seg_veg = np.array([s.kind == "vegetation" for s in segs])
    height = np.array([s.height for s in segs], np.float32)[idx]
    veg = seg_veg[idx]
    zcs = np.where(valid, zc, Z_END).astype(np.float32)
    bump = np.where(veg, 0.9 * sample(tex.mid, zcs * 3.0, 17), 0.0)
    top = np.where(valid, cam.yh - (height + bump - cam.hc) * cam.f / zcs, cam.height + 1)
    bottom = cam.yh + cam.hc * cam.f / zcs
    ys, xs = _column_spans(top, bottom, cam.height)
    yf = ys.astype(np.float32) + 0.5
    z = zcs[xs]
    k = idx[xs]
    yw = cam.hc - (yf - cam.yh) * z / cam.f  # height on the facade (m)
    foot = z / cam.f  # metres per pixel
    colors = take_rows(np.stack([s.color for s in segs]), k)
    material = np.array([{"brick": 0, "plaster": 1, "glass": 2}.get(s.material, 1) if s.kind == "building" else 3
                         for s in segs], np.int8)[k]
    hgt = height[xs]
    rgb = colors * (1 + 0.05 * sample(tex.low, z * 4, yw * 4) + 0.04 * sample(tex.fine, z * 30, yw * 30))[:, None]
    refl = take_rows(sky_ref, np.minimum(ys // 2, len(sky_ref) - 1))
    b = np.nonzero(material == 0)[0]
    rgb[b] = _brick(rgb[b], z[b], yw[b], foot[b], tex)
    g = np.nonzero(material == 2)[0]
    rgb[g] = _glass(colors[g], z[g], yw[g], refl[g], tex)
    w = np.nonzero(material < 2)[0]
    spacing = np.array([s.window_spacing for s in segs], np.float32)[k[w]]
    floor_h = np.array([s.floor_height for s in segs], np.float32)[k[w]]
    inst_w = np.array([s.inst for s in segs], np.int32)[k[w]]
    rgb[w] = _windows(rgb[w], z[w], yw[w], hgt[w], spacing, floor_h, inst_w, refl[w], tex)
    rgb[yw > hgt - 0.45] *= 0.7  # cornice
    v = np.nonzero(material == 3)[0]  # vegetation stretches (hedges, park trees)
    zv, yv = z[v], yw[v]
    rgb[v] = colors[v] * ((0.75 + 0.25 * sample(tex.fine, zv * 25, yv * 25) + 0.1 * sample(tex.mid, zv * 6, yv * 6))
                          * np.clip(0.65 + 0.35 * yv / np.maximum(hgt[v], 1), 0.5, 1.1))[:, None]
    light = 0.92 if sc.sun_side == 0 else (1.12 if sc.sun_side == side.sign else 0.78)
    a = np.clip(z / (Z_END * 2.2), 0, 0.5)[:, None]
    rgb = rgb * (light * (1 - a)) + _haze(sc) * a
    is_veg = material == 3
    inst = np.array([s.inst for s in segs], np.int32)[k]
    cv.put(ys, xs, np.where(is_veg, VEGETATION, BUILDING).astype(np.uint8), rgb, np.where(is_veg, 0, inst))


def _road(sc: Scene, tex: Textures, X, Z, lat, curb, parking, foot):
    """Asphalt with patches, lane markings, parking stalls and a zebra crossing."""
    low = sample(tex.low, X * 3, Z * 3)
    grain = sample(tex.fine, X * 40, Z * 40)
    fade = np.clip(1.5 - foot / 0.05, 0.2, 1)
    rgb = sc.road_color * ((1 + 0.07 * low + 0.08 * grain * fade) * np.where(parking, 0.92, 1.0))[:, None]
    paint = (np.abs(X - sc.lane_x) < 0.07 + 0.5 * foot) & (_frac(Z / 9.0) < 0.4)
    paint |= np.abs(lat - (curb - 0.3)) < 0.06 + 0.5 * foot
    if sc.crossing is not None:
        paint |= (Z >= sc.crossing[0]) & (Z < sc.crossing[1]) & (_frac(X) < 0.5)
    paint |= parking & (_frac(Z / 5.5) < 0.03 + 0.5 * foot * Z / sc.camera.hc / 5.5)
    rgb[paint] = 0.2 * rgb[paint] + 180
    return rgb


def _sidewalk(color, tex, X, Z, lat, curb, foot):
    """Paving slabs (60 cm) and a curb stone."""
    slab = (_frac(X / 0.6) < 0.06) | (_frac(Z / 0.6) < 0.06)
    sf = np.clip(1.5 - foot / 0.03, 0, 1)
    rgb = color * (1 + 0.05 * sample(tex.low, X * 3, Z * 3) + 0.06 * sample(tex.fine, X * 40, Z * 40)
                   - 0.18 * slab * sf)[:, None]
    cs = lat < curb + 0.25
    rgb[cs] = rgb[cs] * 0.6 + 80
    return rgb


def _ground(cv: _Canvas, sc: Scene, tex: Textures) -> None:
    cam = sc.camera
    left, right = sc.sides
    r0 = max(0, min(cam.height, int(np.floor(cam.yh + cam.hc * cam.f / Z_END))))
    rows = np.arange(r0, cam.height, dtype=np.float32) + 0.5
    dy = np.maximum(rows - cam.yh, 1e-3)
    # ground between the facades: lateral X = (x + 0.5 - xv) * hc / dy in [-left.facade, right.facade]
    lo = np.ceil(cam.xv - left.facade * dy / cam.hc - 0.5)
    hi = np.floor(cam.xv + right.facade * dy / cam.hc - 0.5) + 1
    ri, xs = _spans(lo, hi, cam.width)
    X = (xs.astype(np.float32) + (0.5 - cam.xv)) * (cam.hc / dy)[ri]
    Z = (cam.f * cam.hc / dy)[ri]
    ys = ri + r0
    label = np.full(len(X), SIDEWALK, np.uint8)
    rgb = np.empty((len(X), 3), np.float32)
    right_side = X > 0
    lat = np.abs(X)
    foot = Z / cam.f  # metres per pixel across the road
    curb = np.where(right_side, np.float32(right.curb), np.float32(left.curb))
    road = lat <= curb
    label[road] = ROAD
    parking = np.zeros(len(X), bool)
    for side in (left, right):
        on = right_side == (side.sign > 0)
        if side.parking:
            parking |= on & road & (lat > side.curb - 2.0)
        if side.terrain is not None:
            label[on & (lat >= side.terrain[0]) & (lat < side.terrain[1])] = TERRAIN
        if side.driveway is not None:
            label[on & ~road & (label == SIDEWALK) & (Z >= side.driveway[0]) & (Z < side.driveway[1])] = GROUND
    label[parking] = PARKING
    m = np.nonzero(road)[0]
    rgb[m] = _road(sc, tex, X[m], Z[m], lat[m], curb[m], parking[m], foot[m])
    for side in (left, right):
        on = right_side == (side.sign > 0)
        m = np.nonzero(on & (label == SIDEWALK))[0]
        rgb[m] = _sidewalk(side.sidewalk_color, tex, X[m], Z[m], lat[m], side.curb, foot[m])
        m = np.nonzero(on & (label == TERRAIN))[0]
        rgb[m] = side.terrain_color * (1 + 0.2 * sample(tex.fine, X[m] * 60, Z[m] * 60)
                                       + 0.1 * sample(tex.low, X[m] * 3, Z[m] * 3))[:, None]
    m = np.nonzero(label == GROUND)[0]
    rgb[m] = np.asarray(pal.GROUND[0], np.float32) * (1 + 0.08 * sample(tex.fine, X[m] * 40, Z[m] * 40))[:, None]
    a = np.clip(Z / (Z_END * 2.2), 0, 0.5)[:, None]
    cv.put(ys, xs, label, rgb * (1 - a) + _haze(sc) * a)


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
        ys, xs = _column_spans(top, bottom, cam.height)
        if len(ys) == 0:
            continue
        yf = ys.astype(np.float32) + 0.5
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
        inst = cv.inst[r0:r1, c0:c1] if cv.inst is not None else None
        if kind.shadow:
            sh = ((lx / (kind.shadow * 1.15)) ** 2 + ((ly + 0.05) / 0.22) ** 2) < 1
            photo[sh] *= 0.55 if sc.sun_side else 0.7
        for mask, label, rgb in kind.paint(lx, ly, sp, tex):
            if mask.shape != lab.shape:
                mask = np.broadcast_to(mask, lab.shape)
            if not mask.any():
                continue
            lab[mask] = label
            if inst is not None:
                inst[mask] = sp.inst
            rgb = np.asarray(rgb, np.float32)
            if rgb.ndim == 1:
                photo[mask] = rgb
            else:
                np.copyto(photo, rgb, where=mask[..., None])


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


def render_scene(sc: Scene, tex: Textures, noise_offset: tuple[int, int] = (0, 0),
                 instances: bool = True) -> Rendered:
    """Paint ``sc`` into label ids, instances (unless ``instances`` is False) and an 8-bit photo."""
    cam = sc.camera
    cv = _Canvas(cam.height, cam.width, instances)
    sky_ref = _sky(cv, sc, tex)
    _backdrop(cv, sc, tex)
    for side in sc.sides:
        _facades(cv, sc, tex, side, sky_ref)
    _ground(cv, sc, tex)
    for side in sc.sides:
        _planes(cv, sc, tex, side)
    _sprites(cv, sc, tex)
    _ego(cv, sc)
    n = tex.sensor.shape[0]
    oy, ox = noise_offset
    # the sensor tile shifted by the offset and repeated: rows (y + oy) % n, columns (x + ox) % n
    shifted = np.roll(tex.sensor, (-(oy % n), -(ox % n)), axis=(0, 1))
    noise = np.tile(shifted, (-(-cam.height // n), -(-cam.width // n), 1))[:cam.height, :cam.width]
    photo = cv.photo
    photo *= sc.exposure
    photo += noise
    photo += 0.5
    np.clip(photo, 0, 255, out=photo)
    photo = photo.astype(np.uint8)
    return Rendered(cv.lab, cv.inst, photo)
