"""Small planar geometry helpers for laying out the sample town (metres)."""

from __future__ import annotations

import math

from .model import Coord


def rotate(points: list[Coord], cx: float, cy: float, angle_deg: float) -> list[Coord]:
    """Rotate points counter-clockwise about (cx, cy)."""
    if angle_deg == 0:
        return list(points)
    a = math.radians(angle_deg)
    ca, sa = math.cos(a), math.sin(a)
    return [
        (cx + (x - cx) * ca - (y - cy) * sa, cy + (x - cx) * sa + (y - cy) * ca)
        for x, y in points
    ]


def rect(cx: float, cy: float, w: float, h: float, angle: float = 0.0) -> list[Coord]:
    """Axis-aligned (then rotated) rectangle, counter-clockwise from south-west."""
    hw, hh = w / 2, h / 2
    pts = [(cx - hw, cy - hh), (cx + hw, cy - hh), (cx + hw, cy + hh), (cx - hw, cy + hh)]
    return rotate(pts, cx, cy, angle)


def box(x0: float, y0: float, x1: float, y1: float) -> list[Coord]:
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def l_shape(
    cx: float, cy: float, w: float, h: float, cut: float, corner: int, angle: float = 0.0
) -> list[Coord]:
    """An L-shaped footprint: a w x h rectangle with one corner notch removed.

    ``cut`` is the notch size as a fraction of each side; ``corner`` 0..3 picks
    which corner (SW, SE, NE, NW) loses the notch.
    """
    hw, hh = w / 2, h / 2
    cw, ch = w * cut, h * cut
    # outline of a rectangle with the north-east corner cut, counter-clockwise
    pts = [
        (-hw, -hh),
        (hw, -hh),
        (hw, hh - ch),
        (hw - cw, hh - ch),
        (hw - cw, hh),
        (-hw, hh),
    ]
    flip_x = corner in (0, 3)
    flip_y = corner in (0, 1)
    out = []
    for x, y in pts:
        out.append((cx + (-x if flip_x else x), cy + (-y if flip_y else y)))
    if flip_x != flip_y:  # a single mirror reverses the winding; restore it
        out.reverse()
    return rotate(out, cx, cy, angle)


def blob(cx, cy, rx, ry, n, phases, amps) -> list[Coord]:
    """A wobbly ellipse: radius modulated by a few sine harmonics (k = 2, 3, ...)."""
    pts = []
    harmonics = list(enumerate(zip(amps, phases, strict=True), start=2))
    for i in range(n):
        t = 2 * math.pi * i / n
        f = 1.0 + sum(a * math.sin(k * t + p) for k, (a, p) in harmonics)
        pts.append((cx + rx * f * math.cos(t), cy + ry * f * math.sin(t)))
    return pts


def segment_intersection(p1: Coord, p2: Coord, q1: Coord, q2: Coord):
    """Intersection of segments p1p2 and q1q2 as ``(t, u, point)`` or None."""
    rx, ry = p2[0] - p1[0], p2[1] - p1[1]
    sx, sy = q2[0] - q1[0], q2[1] - q1[1]
    den = rx * sy - ry * sx
    if abs(den) < 1e-12:
        return None
    qpx, qpy = q1[0] - p1[0], q1[1] - p1[1]
    t = (qpx * sy - qpy * sx) / den
    u = (qpx * ry - qpy * rx) / den
    eps = 1e-9
    if -eps <= t <= 1 + eps and -eps <= u <= 1 + eps:
        return t, u, (p1[0] + t * rx, p1[1] + t * ry)
    return None


def polyline_crossings(a: list[Coord], b: list[Coord]):
    """All crossings of two polylines: list of ``(seg_a, t, seg_b, u, point)``."""
    out = []
    for i in range(len(a) - 1):
        ax0, ax1 = sorted((a[i][0], a[i + 1][0]))
        ay0, ay1 = sorted((a[i][1], a[i + 1][1]))
        for j in range(len(b) - 1):
            if max(b[j][0], b[j + 1][0]) < ax0 - 1e-6 or min(b[j][0], b[j + 1][0]) > ax1 + 1e-6:
                continue
            if max(b[j][1], b[j + 1][1]) < ay0 - 1e-6 or min(b[j][1], b[j + 1][1]) > ay1 + 1e-6:
                continue
            hit = segment_intersection(a[i], a[i + 1], b[j], b[j + 1])
            if hit is not None:
                out.append((i, hit[0], j, hit[1], hit[2]))
    return out


def cut_polyline(coords: list[Coord], seg: int, t: float, before: float, after: float):
    """Split a polyline around the point at (seg, t): returns (head, middle, tail).

    ``before``/``after`` are distances in metres measured along the line from
    the cut point; the middle piece spans that stretch (a bridge, say).
    """
    dist = [0.0]
    for p, q in zip(coords, coords[1:], strict=False):
        dist.append(dist[-1] + math.dist(p, q))
    at = dist[seg] + t * (dist[seg + 1] - dist[seg])
    d0, d1 = max(at - before, 0.0), min(at + after, dist[-1])

    def point_at(d: float) -> Coord:
        for k in range(len(coords) - 1):
            if dist[k + 1] >= d:
                span = dist[k + 1] - dist[k]
                f = 0.0 if span == 0 else (d - dist[k]) / span
                p, q = coords[k], coords[k + 1]
                return (p[0] + f * (q[0] - p[0]), p[1] + f * (q[1] - p[1]))
        return coords[-1]

    a, b = point_at(d0), point_at(d1)
    head = [c for c, d in zip(coords, dist, strict=True) if d < d0] + [a]
    middle = [a] + [c for c, d in zip(coords, dist, strict=True) if d0 < d < d1] + [b]
    tail = [b] + [c for c, d in zip(coords, dist, strict=True) if d > d1]
    return head, middle, tail


def interp_x(coords: list[Coord], y: float) -> float:
    """x of a north-south polyline at a given y (linear interpolation)."""
    for p, q in zip(coords, coords[1:], strict=False):
        lo, hi = sorted((p[1], q[1]))
        if lo <= y <= hi and hi > lo:
            f = (y - p[1]) / (q[1] - p[1])
            return p[0] + f * (q[0] - p[0])
    return coords[0][0] if abs(coords[0][1] - y) < abs(coords[-1][1] - y) else coords[-1][0]


def interp_y(coords: list[Coord], x: float) -> float:
    """y of an east-west polyline at a given x."""
    swapped = [(y, x_) for x_, y in coords]
    return interp_x(swapped, x)
