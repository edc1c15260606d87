"""Benchmark: patch-element candidates and descriptors in SQL against a per-patch shapely loop.

The sample town (rsteller_db.sample, 3.2 km square) is tiled TILES x TILES times side by side
in UTM 18N and covered by a grid of 268.8 m patches (no gap), which gives 11,449 patches for
the default 9 x 9 tiles. Its ways, multipolygons and nodes are written straight into
``stg_osm__elements`` (the shape the staging SQL gives them) and the grid into
``int_patches_gridded``; then

* rsteller-db: the SQL stages int_elements_validated .. int_patch_points_described (the join,
  clipping and every area, line and point descriptor), timed by the stage runner;
* baseline: the straightforward way, patch by patch: an STRtree query in EPSG:4326, each hit
  projected to UTM with pyproj, clipped and described with shapely.

Both compute the same descriptors; a random subset of patches is compared field by field.
The figure is patches per second of each (best of --repeat runs), printed as a ratio, and
the CPU time per patch of each (all threads), which a busy shared machine disturbs less.

    python bench/candidates.py                     # 9 x 9 tiles, baseline on 3,000 patches
    python bench/candidates.py --baseline-patches 0 --repeat 1   # baseline on every patch
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rsteller_db import stages  # noqa: E402
from rsteller_db.sample.geo import EPSG, utm_to_lonlat  # noqa: E402
from rsteller_db.sample.town import ORIGIN, build_layout  # noqa: E402
from rsteller_db.settings import load_settings  # noqa: E402
from rsteller_db.warehouse import Warehouse  # noqa: E402

SIDE_M = 268.8
GSD_M = 0.6  # pieces smaller than one output pixel are not described
TOWN_M = 3200.0
LINE_KEYS = ("highway", "railway", "waterway", "barrier", "power")
DESCRIBE = ["int_elements_validated", "int_patch_elements_joined", "int_patch_areas_described",
            "int_patch_lines_described", "int_patch_points_described"]
SEEDS = ["descriptor_words", "grid_cells", "tag_glossary"]
CELL_COLS, CELL_ROWS = ("left", "center", "right"), ("bottom", "center", "top")


# -- the region ---------------------------------------------------------------------------
def _lonlat(coords, dx: float, dy: float) -> list[tuple[float, float]]:
    xy = np.asarray(coords, dtype=np.float64)
    lon, lat = utm_to_lonlat(xy[:, 0] + ORIGIN[0] + dx, xy[:, 1] + ORIGIN[1] + dy)
    return list(zip(lon.tolist(), lat.tolist(), strict=True))


def _is_area(tags: dict, closed: bool) -> bool:
    return closed and not any(k in tags for k in LINE_KEYS) and tags.get("natural") != "tree_row"


def region(tiles: int) -> tuple[list[tuple], list[tuple]]:
    """(elements, patches): elements as (element_id, kind, tags, shapely geometry in 4326)."""
    layout = build_layout(seed=0, size_m=TOWN_M)
    elements: list[tuple] = []
    next_id = 0
    for ti in range(tiles):
        for tj in range(tiles):
            dx, dy = ti * TOWN_M, tj * TOWN_M
            for node in layout.nodes:
                next_id += 1
                elements.append((next_id * 10 + 1, "point", node.tags,
                                 Point(_lonlat([node.xy], dx, dy)[0])))
            for way in layout.ways:
                next_id += 1
                pts = _lonlat(way.coords, dx, dy)
                if _is_area(way.tags, way.closed):
                    elements.append((next_id * 10 + 2, "area", way.tags, Polygon(pts)))
                else:
                    elements.append((next_id * 10 + 2, "line", way.tags, LineString(pts)))
            for rel in layout.relations:
                if rel.tags.get("type") != "multipolygon":
                    continue
                next_id += 1
                outers = [Polygon(_lonlat(layout.ways[i].coords, dx, dy))
                          for kind, i, role in rel.members if kind == "w" and role == "outer"]
                inners = [Polygon(_lonlat(layout.ways[i].coords, dx, dy))
                          for kind, i, role in rel.members if kind == "w" and role == "inner"]
                geom = shapely.difference(shapely.union_all(outers), shapely.union_all(inners))
                elements.append((next_id * 10 + 3, "area", rel.tags, geom))
    n = int(tiles * TOWN_M // SIDE_M)
    patches = []
    for c in range(n):
        for r in range(n):
            x0, y0 = ORIGIN[0] + c * SIDE_M, ORIGIN[1] + r * SIDE_M
            native = box(x0, y0, x0 + SIDE_M, y0 + SIDE_M)
            ring = np.asarray(native.exterior.coords)
            lon, lat = utm_to_lonlat(ring[:, 0], ring[:, 1])
            patches.append((c * n + r + 1, c, r, native, Polygon(zip(lon, lat, strict=True))))
    return elements, patches


def load(wh: Warehouse, elements: list[tuple], patches: list[tuple]) -> None:
    el = pa.table({
        "element_id": [e[0] for e in elements], "kind": [e[1] for e in elements],
        "tags": pa.array([list(e[2].items()) for e in elements], pa.map_(pa.string(), pa.string())),
        "wkb": [shapely.to_wkb(e[3]) for e in elements],
    })
    pt = pa.table({
        "patch_id": [p[0] for p in patches], "col": [p[1] for p in patches],
        "row": [p[2] for p in patches], "native": [shapely.to_wkb(p[3]) for p in patches],
        "wkb": [shapely.to_wkb(p[4]) for p in patches],
    })
    wh.con.register("el", el)
    wh.con.register("pt", pt)
    wh.con.execute(f"""
        CREATE OR REPLACE TABLE stg_osm__elements AS
        SELECT element_id, CASE element_id % 10 WHEN 1 THEN 'node' WHEN 2 THEN 'way'
               ELSE 'relation' END AS osm_type, element_id // 10 AS osm_id, kind, tags,
               ST_GeomFromWKB(wkb) AS geom, '-infinity'::TIMESTAMP AS osm_from,
               'infinity'::TIMESTAMP AS osm_until
        FROM el;
        CREATE OR REPLACE TABLE stg_osm__boundaries AS
        SELECT 1::BIGINT AS element_id, 'relation' AS osm_type, 0::BIGINT AS osm_id,
               'Millbrook' AS name, 8 AS admin_level, MAP {{'boundary': 'administrative'}} AS tags,
               ST_Envelope_Agg(ST_GeomFromWKB(wkb)) AS geom, '-infinity'::TIMESTAMP AS osm_from,
               'infinity'::TIMESTAMP AS osm_until FROM pt;
        CREATE OR REPLACE TABLE stg_naip__images AS
        SELECT 'bench' AS image_name, DATE '2022-08-15' AS acquired_on, {EPSG} AS epsg,
               0.6 AS gsd_m, 0 AS width_px, 0 AS height_px, NULL::GEOMETRY AS geom,
               NULL::DOUBLE[] AS native_bounds, 'bench' AS source, '' AS uri;
        CREATE OR REPLACE TABLE stg_osm__image_snapshots AS  -- a plain extract: one snapshot
        SELECT 'bench' AS image_name, DATE '2022-08-15' AS acquired_on,
               'one snapshot' AS snapshot, NULL::TIMESTAMP AS osm_target_at,
               NULL::TIMESTAMP AS osm_at, NULL::BIGINT AS osm_gap_days;
        CREATE OR REPLACE TABLE int_patches_gridded AS
        SELECT patch_id, 'bench' AS image_name, col, "row", col * 448 AS px_x, "row" * 448 AS px_y,
               448 AS px_size, {EPSG} AS epsg, ST_GeomFromWKB(native) AS geom_native,
               ST_GeomFromWKB(wkb) AS geom
        FROM pt;
    """)
    wh.con.unregister("el")
    wh.con.unregister("pt")


# -- the baseline ---------------------------------------------------------------------------
def _cell(x: float, y: float) -> str:
    col = CELL_COLS[min(max(math.floor(x * 3), 0), 2)]
    row = CELL_ROWS[min(max(math.floor(y * 3), 0), 2)]
    return "center" if (col, row) == ("center", "center") else f"{row}-{col}"


def _edge(x: float, y: float) -> str | None:
    v = "top" if y >= 1 - 1e-6 else "bottom" if y <= 1e-6 else None
    h = "left" if x <= 1e-6 else "right" if x >= 1 - 1e-6 else None
    return "-".join(p for p in (v, h) if p) or None


def _polys(g):
    return [p for p in shapely.get_parts(g) if isinstance(p, Polygon) and p.area > 0]


def describe_area(native, unit, side):
    parts = sorted(_polys(unit), key=lambda p: (-p.area, _cell(p.centroid.x, p.centroid.y)))
    positions = list(dict.fromkeys(_cell(p.centroid.x, p.centroid.y) for p in parts))
    area = native.area
    if area < GSD_M ** 2:
        return None
    x0, y0, x1, y1 = native.bounds
    if len(parts) > 1:
        shape = "multi-polygonal"
    elif area >= 0.9 * (x1 - x0) * (y1 - y0) or area >= 0.9 * native.minimum_rotated_rectangle.area:
        shape = "rectangular"
    elif abs(native.length ** 2 / (4 * math.pi) - area) <= 0.1 * area:
        shape = "circular"
    else:
        shape = "irregular"
    return ("area", positions, shape, round(area / side ** 2, 3))


def describe_line(native, unit, side):
    pieces = [p for p in shapely.get_parts(shapely.line_merge(unit)) if p.length > 0]
    if native.length < GSD_M:
        return None
    piece = max(pieces, key=lambda p: p.length)
    (x1, y1), (x2, y2) = piece.coords[0], piece.coords[-1]
    chord = math.hypot(x2 - x1, y2 - y1)
    ratio = piece.length / chord if chord >= 1e-9 else None
    sinuosity = ("closed" if ratio is None else "straight" if ratio < 1.0005
                 else "curved" if ratio < 1.5 else "twisted")
    heading = math.degrees(math.atan2(y2 - y1, x2 - x1))
    folded = heading - 180 if heading > 90 else heading + 180 if heading <= -90 else heading
    orientation = ("none" if sinuosity in ("twisted", "closed") else "east-west"
                   if abs(folded) < 30 else "southwest-northeast" if 30 <= folded <= 60
                   else "northwest-southeast" if -60 <= folded <= -30 else "south-north")
    return ("line", _cell(x1, y1), _edge(x1, y1), _cell(x2, y2), _edge(x2, y2), sinuosity,
            orientation, round(native.length / side, 3))


def baseline(elements, patches) -> dict[tuple[int, int], tuple]:
    """The per-patch loop: query, project, clip and describe each element of each patch."""
    geoms = [e[3] for e in elements]
    tree = shapely.STRtree(geoms)
    to_utm = Transformer.from_crs("EPSG:4326", f"EPSG:{EPSG}", always_xy=True)

    def project(g):
        return shapely.transform(
            g, lambda xy: np.column_stack(to_utm.transform(xy[:, 0], xy[:, 1])))

    out = {}
    for patch_id, _, _, square, footprint in patches:
        x0, y0, x1, _ = square.bounds
        side = x1 - x0
        slack = box(*square.buffer(0.05, join_style="mitre").bounds)
        for i in tree.query(footprint, predicate="intersects"):
            element_id, kind, _, geom = elements[i]
            g = project(geom)
            if not shapely.is_valid(g):
                g = shapely.make_valid(g)
            if not square.intersects(g):
                continue
            clipped = g if kind == "point" else g.intersection(square)
            if kind == "area":
                clipped = MultiPolygon(_polys(clipped)) if len(_polys(clipped)) > 1 else \
                    (_polys(clipped) or [Polygon()])[0]
            elif kind == "line":
                lines = [p for p in shapely.get_parts(clipped) if p.geom_type == "LineString"]
                clipped = shapely.multilinestrings(lines) if len(lines) > 1 else \
                    (lines or [LineString()])[0]
            if clipped.is_empty:
                continue
            unit = shapely.affinity.affine_transform(
                clipped, [1 / side, 0, 0, 1 / side, -x0 / side, -y0 / side])
            if kind == "area":
                facts = describe_area(clipped, unit, side)
            elif kind == "line":
                facts = describe_line(clipped, unit, side)
            else:
                facts = ("point", _cell(unit.centroid.x, unit.centroid.y))
            if facts is not None:
                out[(patch_id, element_id)] = (not slack.covers(g), *facts)
    return out


def sql_results(wh: Warehouse, patch_ids: list[int]) -> dict[tuple[int, int], tuple]:
    wh.con.execute("CREATE OR REPLACE TEMP TABLE _check AS SELECT unnest(?::BIGINT[]) AS patch_id",
                   [patch_ids])
    out = {}
    for row in wh.con.execute("""
            SELECT patch_id, element_id, is_clipped, positions, shape, area_norm
            FROM int_patch_areas_described JOIN _check USING (patch_id)""").fetchall():
        out[(row[0], row[1])] = (row[2], "area", row[3], row[4], float(row[5]))
    for row in wh.con.execute("""
            SELECT patch_id, element_id, is_clipped, start_position, start_edge, end_position,
                   end_edge, sinuosity, orientation, length_norm
            FROM int_patch_lines_described JOIN _check USING (patch_id)""").fetchall():
        out[(row[0], row[1])] = (row[2], "line", *row[3:9], float(row[9]))
    for row in wh.con.execute("""
            SELECT d.patch_id, d.element_id, j.is_clipped, d.position
            FROM int_patch_points_described AS d JOIN _check USING (patch_id)
            JOIN int_patch_elements_joined AS j USING (patch_id, element_id)""").fetchall():
        out[(row[0], row[1])] = (row[2], "point", row[3])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=9, help="sample towns per side (default 9)")
    parser.add_argument("--baseline-patches", type=int, default=3000,
                        help="time the baseline on this many random patches (0: all; default 3000)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each side; the best is reported (default 3)")
    parser.add_argument("--check", type=int, default=500, help="patches compared field by field")
    args = parser.parse_args()

    elements, patches = region(args.tiles)
    print(f"region: {args.tiles}x{args.tiles} sample towns, {len(elements):,} elements, "
          f"{len(patches):,} patches; best of {args.repeat} runs per side")
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        wh = Warehouse(Path(tmp) / "bench.duckdb", settings=load_settings())
        load(wh, elements, patches)
        stages.build(wh, only=SEEDS, force=True)
        runs, sql_cpu = [], math.inf
        for _ in range(args.repeat):
            c0 = time.process_time()
            runs.append(stages.build(wh, only=DESCRIBE, force=True))
            sql_cpu = min(sql_cpu, time.process_time() - c0)
        best = min(runs, key=lambda r: sum(x.seconds for x in r.results))
        sql_s = sum(r.seconds for r in best.results)
        pairs = wh.con.execute("SELECT count(*) FROM int_patch_elements_joined").fetchone()[0]
        for r in best.results:
            print(f"  {r.stage:<28} {r.rows:>9,} rows {r.seconds:8.2f} s")

        sample = patches if not args.baseline_patches else rng.sample(
            patches, min(args.baseline_patches, len(patches)))
        base_s = base_cpu = math.inf
        for _ in range(args.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            base = baseline(elements, sample)
            base_s = min(base_s, time.perf_counter() - t0)
            base_cpu = min(base_cpu, time.process_time() - c0)

        checked = rng.sample([p[0] for p in sample], min(args.check, len(sample)))
        ours = sql_results(wh, checked)
        theirs = {k: v for k, v in base.items() if k[0] in set(checked)}
        mismatched = sorted(k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k))
        wh.close()

    sql_rate = len(patches) / sql_s
    base_rate = len(sample) / base_s
    print(f"rsteller-db SQL : {len(patches):>7,} patches, {pairs:,} patch-element pairs in "
          f"{sql_s:7.2f} s = {sql_rate:9.0f} patches/s")
    print(f"shapely baseline: {len(sample):>7,} patches in {base_s:7.2f} s = "
          f"{base_rate:9.0f} patches/s")
    print(f"speed-up: {sql_rate / base_rate:.1f}x the baseline (wall clock)")
    cpu_ratio = (base_cpu / len(sample)) / (sql_cpu / len(patches))
    print(f"CPU time per patch: SQL {sql_cpu / len(patches) * 1e3:.3f} ms (all threads), "
          f"baseline {base_cpu / len(sample) * 1e3:.3f} ms: {cpu_ratio:.1f}x less work")
    print(f"check: {len(checked)} patches, {len(ours):,} descriptor rows, "
          f"{len(mismatched)} mismatched")
    for key in mismatched[:5]:
        print(f"  {key}: sql={ours.get(key)} baseline={theirs.get(key)}")
    if mismatched:
        sys.exit(1)


if __name__ == "__main__":
    main()
