"""Render the town layout as a NAIP-like 0.6 m RGB GeoTIFF in EPSG:26918.

Painting order mimics what a camera sees from above: ground cover
(textured areas), driveways, water and transport lines, then shadows, tree
crowns and roofs, and finally a slight optical blur and sensor grain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from .geo import EPSG, PIXEL_M
from .model import Coord, Layout, Tree
from .textures import FILLS, Noise, texture

MARGIN_PX = 100  # 60 m of extra image around the town on every side
BLOCK = 512

# line styles: (casing width m, casing colour, fill width m, fill colour), paint order
LINES = {
    "river": (26.0, (92, 96, 72), 22.0, (40, 64, 80)),
    "footway": (0.0, None, 2.0, (176, 168, 150)),
    "track": (0.0, None, 3.5, (150, 134, 104)),
    "service": (5.6, (104, 104, 100), 4.8, (128, 128, 124)),
    "residential": (8.4, (86, 86, 84), 7.0, (118, 118, 116)),
    "secondary": (10.6, (72, 72, 72), 9.0, (104, 104, 104)),
    "primary": (12.6, (66, 66, 68), 11.0, (94, 94, 96)),
    "rail": (6.0, (146, 138, 126), 2.4, (84, 74, 66)),
}
CENTRE_LINE = {"primary": (200, 180, 90), "secondary": (196, 178, 96)}
SUN = (-0.35, 0.61)  # shadow displacement per metre of height (towards north-north-west)


@dataclass(frozen=True)
class Grid:
    """Pixel grid of the image: north-up, square 0.6 m pixels."""

    width: int
    height: int
    left: float  # UTM easting of the west edge
    top: float  # UTM northing of the north edge
    x_left: float  # the same edges in local town metres
    y_top: float

    @classmethod
    def for_layout(cls, layout: Layout) -> Grid:
        n = math.ceil(layout.size / PIXEL_M - 1e-9) + 2 * MARGIN_PX
        x_left = -MARGIN_PX * PIXEL_M
        y_top = round(x_left + n * PIXEL_M, 6)
        return cls(n, n, round(layout.origin[0] + x_left, 6), round(layout.origin[1] + y_top, 6),
                   x_left, y_top)

    @property
    def transform(self):
        from affine import Affine

        return Affine(PIXEL_M, 0.0, self.left, 0.0, -PIXEL_M, self.top)

    def px(self, pts) -> list[tuple[float, float]]:
        """Local metres -> PIL pixel coordinates (pixel centres on integers)."""
        return [((x - self.x_left) / PIXEL_M - 0.5, (self.y_top - y) / PIXEL_M - 0.5)
                for x, y in pts]


def _ring_window(grid: Grid, rings_px):
    xs = [p[0] for ring in rings_px for p in ring]
    ys = [p[1] for ring in rings_px for p in ring]
    c0, c1 = max(int(math.floor(min(xs))), 0), min(int(math.ceil(max(xs))) + 1, grid.width)
    r0, r1 = max(int(math.floor(min(ys))), 0), min(int(math.ceil(max(ys))) + 1, grid.height)
    return r0, r1, c0, c1


def _areas(layout: Layout):
    """(style, params, outer ring, inner rings) for everything painted as ground cover."""
    out = []
    for way in layout.ways:
        if way.style in FILLS:
            out.append((way.style, way.params, way.coords, []))
    for rel in layout.relations:
        if rel.style in FILLS:
            outer: list[Coord] = []
            inners = []
            for _kind, idx, role in rel.members:
                coords = layout.ways[idx].coords
                if role == "outer":
                    outer += coords if not outer else coords[1:]
                elif role == "inner":
                    inners.append(coords)
            out.append((rel.style, rel.params, outer, inners))
    return sorted(out, key=lambda a: FILLS[a[0]].z)


def _paint_ground(canvas: np.ndarray, layout: Layout, grid: Grid, noise: Noise) -> None:
    for r0 in range(0, grid.height, BLOCK):
        r1 = min(r0 + BLOCK, grid.height)
        canvas[r0:r1] = texture("meadow", {}, noise, r0, r1, 0, grid.width, grid.x_left,
                                grid.y_top)
    for style, params, outer, inners in _areas(layout):
        rings = [grid.px(outer)] + [grid.px(r) for r in inners]
        r0, r1, c0, c1 = _ring_window(grid, rings)
        if r1 <= r0 or c1 <= c0:
            continue
        mask_img = Image.new("L", (c1 - c0, r1 - r0), 0)
        draw = ImageDraw.Draw(mask_img)
        for k, ring in enumerate(rings):
            draw.polygon([(x - c0, y - r0) for x, y in ring], fill=0 if k else 255)
        mask = np.asarray(mask_img) > 0
        tex = texture(style, params, noise, r0, r1, c0, c1, grid.x_left, grid.y_top)
        np.copyto(canvas[r0:r1, c0:c1], tex, where=mask[..., None])


def _w(metres: float) -> int:
    return max(1, round(metres / PIXEL_M))


def _paint_lines(img: Image.Image, layout: Layout, grid: Grid) -> None:
    draw = ImageDraw.Draw(img)
    for poly in layout.paved:
        draw.polygon(grid.px(poly), fill=(148, 146, 140))
    order = list(LINES)
    ways = [w for w in layout.ways if w.style in LINES]
    ways.sort(key=lambda w: (bool(w.params.get("bridge")), order.index(w.style)))
    groups = [[w for w in ways if not w.params.get("bridge")],
              [w for w in ways if w.params.get("bridge")]]
    for group in groups:
        for way in group:  # casings first so junctions merge cleanly
            cw, cc, _, _ = LINES[way.style]
            if way.params.get("bridge"):
                cw, cc = cw + 2.4, (168, 168, 164)
            if cc is not None:
                draw.line(grid.px(way.coords), fill=cc, width=_w(cw), joint="curve")
        for way in group:
            _, _, fw, fc = LINES[way.style]
            pts = grid.px(way.coords)
            draw.line(pts, fill=fc, width=_w(fw), joint="curve")
            if way.style in CENTRE_LINE:
                draw.line(pts, fill=CENTRE_LINE[way.style], width=1)


def _shade(img: Image.Image, layout: Layout, grid: Grid) -> Image.Image:
    """Darken the ground where buildings and trees cast shadows."""
    mask = Image.new("L", (grid.width, grid.height), 0)
    draw = ImageDraw.Draw(mask)
    for way in layout.ways:
        if way.style == "roof":
            h = way.params.get("height", 7.0)
            for f in (0.25, 0.5, 0.75, 1.0):
                dx, dy = SUN[0] * h * f, SUN[1] * h * f
                draw.polygon(grid.px([(x + dx, y + dy) for x, y in way.coords]), fill=255)
    for t in _all_trees(layout):
        cx, cy = grid.px([(t.x + SUN[0] * t.radius * 1.6, t.y + SUN[1] * t.radius * 1.6)])[0]
        r = t.radius / PIXEL_M
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=200)
    factor = mask.point([255 - round(0.55 * v) for v in range(256)])
    return ImageChops.multiply(img, Image.merge("RGB", (factor, factor, factor)))


def _all_trees(layout: Layout):
    """Unmapped trees plus crowns along mapped tree rows (every ~7 m)."""
    trees = list(layout.trees)
    for way in layout.ways:
        if way.style == "tree_row":
            for (x0, y0), (x1, y1) in zip(way.coords, way.coords[1:], strict=False):
                n = max(1, int(math.dist((x0, y0), (x1, y1)) / 7.0))
                for k in range(n):
                    f = k / n
                    trees.append(Tree(x0 + f * (x1 - x0), y0 + f * (y1 - y0), 3.6))
    return trees


def _paint_trees(img: Image.Image, layout: Layout, grid: Grid, rng) -> None:
    draw = ImageDraw.Draw(img)
    for t in _all_trees(layout):
        cx, cy = grid.px([(t.x, t.y)])[0]
        r = t.radius / PIXEL_M
        g = int(rng.integers(-12, 13))
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(50 + g, 76 + g, 40 + g // 2))
        hr, off = 0.6 * r, 0.25 * r
        draw.ellipse((cx + off - hr, cy + off - hr, cx + off + hr, cy + off + hr),
                     fill=(66 + g, 94 + g, 50 + g // 2))


def _paint_roofs(img: Image.Image, layout: Layout, grid: Grid, rng) -> None:
    draw = ImageDraw.Draw(img)
    for way in layout.ways:
        if way.style != "roof":
            continue
        color = tuple(int(c) for c in way.params.get("color", (120, 120, 120)))
        dark = tuple(int(c * 0.78) for c in color)
        pts = grid.px(way.coords[:-1])
        draw.polygon(pts, fill=color, outline=dark)
        if way.params.get("gable") and len(pts) == 4:
            p0, p1, p2, p3 = pts
            mid = [((a[0] + b[0]) / 2, (a[1] + b[1]) / 2) for a, b in
                   ((p0, p1), (p1, p2), (p2, p3), (p3, p0))]
            if math.dist(p0, p1) >= math.dist(p1, p2):  # ridge parallel to p0-p1
                shaded = [mid[3], mid[1], p2, p3]  # the northern slope
            else:
                shaded = [p0, mid[0], mid[2], p3]  # the western slope
            draw.polygon(shaded, fill=dark)
        elif way.params.get("flat"):  # rooftop units
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            for _ in range(int(rng.integers(2, 9))):
                ux = float(rng.uniform(min(xs) + 4, max(xs) - 4))
                uy = float(rng.uniform(min(ys) + 4, max(ys) - 4))
                s = float(rng.uniform(2, 5))
                draw.rectangle((ux, uy, ux + s, uy + s), fill=(224, 224, 220), outline=dark)


def render(layout: Layout, seed: int) -> tuple[np.ndarray, Grid]:
    """Paint the layout; returns an (H, W, 3) uint8 image and its grid."""
    rng = np.random.default_rng([seed, 1])
    grid = Grid.for_layout(layout)
    noise = Noise(rng, grid.height, grid.width)
    canvas = np.empty((grid.height, grid.width, 3), dtype=np.uint8)
    _paint_ground(canvas, layout, grid, noise)
    img = Image.fromarray(canvas)
    del canvas
    _paint_lines(img, layout, grid)
    img = _shade(img, layout, grid)
    _paint_trees(img, layout, grid, rng)
    _paint_roofs(img, layout, grid, rng)
    img = img.filter(ImageFilter.BoxBlur(0.5))  # 1-2-1 kernel: a touch of optical blur
    # sensor grain: +-3 levels of luminance noise (re-using the per-pixel noise field,
    # which the blur has already smoothed out of the ground textures)
    grain = Image.fromarray(noise.fine).point([v % 7 for v in range(256)])
    img = ImageChops.add(img, Image.merge("RGB", (grain, grain, grain)), scale=1.0, offset=-3)
    return np.asarray(img), grid


def write_geotiff(canvas: np.ndarray, grid: Grid, path: Path, compress: str = "jpeg") -> None:
    """Write the image as a tiled, compressed 3-band GeoTIFF (no date/time tags)."""
    import rasterio
    from rasterio.crs import CRS

    profile = {
        "driver": "GTiff", "width": grid.width, "height": grid.height, "count": 3,
        "dtype": "uint8", "crs": CRS.from_epsg(EPSG), "transform": grid.transform,
        "tiled": True, "blockxsize": BLOCK, "blockysize": BLOCK, "interleave": "pixel",
    }
    if compress == "jpeg":
        profile.update(compress="jpeg", photometric="ycbcr", jpeg_quality=90)
    else:
        profile.update(compress="deflate", predictor=2, zlevel=6, photometric="rgb")
    path = Path(path)
    if path.exists():
        path.unlink()
    with rasterio.Env(GDAL_NUM_THREADS="1"):
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(np.ascontiguousarray(canvas.transpose(2, 0, 1)))
