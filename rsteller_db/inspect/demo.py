"""A small, realistic warehouse for trying the inspection tools without the whole pipeline.

``build_demo_warehouse(path)`` writes the relations the inspection tools read, shaped as the
contracts in docs/architecture.md say: two NAIP-like images in UTM zone 18N, a 3 x 3 patch grid
on each, OSM areas and lines, caption requests with payloads, accepted / rejected / failed
captions from two annotators, Task 3 revisions, two caption runs, and real JPEG patches that
show the OSM features (so an outline drawn over an image lands on what it outlines).

It stands in for ``build`` + ``images fetch`` + ``caption`` in tests, benchmarks and docs; the
real pipeline writes the same relations.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import shapely
from PIL import Image, ImageDraw
from shapely import affinity
from shapely.geometry import LineString, Polygon, box

from ..warehouse import Warehouse

EPSG = 26918
GSD_M = 0.6
PATCH_PX = 448
IMAGE_PX = 2240
SIDE_M = IMAGE_PX * GSD_M
ANNOTATORS = ("mistralai/Mistral-Nemo-Instruct-2407", "mistralai/Mistral-Small-Instruct-2409")

# (osm_id, osm_type, kind, tags, geometry in EPSG:26918, fill colour in the JPEGs)
_ELEMENTS = [
    (1001, "way", "area", {"landuse": "farmland", "crop": "corn"},
     Polygon([(500080, 4540030), (500700, 4540010), (501290, 4540140), (501320, 4540660),
              (500650, 4540760), (500120, 4540610)]), (196, 180, 96)),
    (1002, "way", "area", {"landuse": "residential", "name": "Oak Hollow"},
     Polygon([(498700, 4540560), (499650, 4540520), (499620, 4541000), (499200, 4540980),
              (499180, 4541300), (498720, 4541280)]), (170, 160, 150)),
    (1003, "way", "area", {"landuse": "forest", "leaf_type": "broadleaved"},
     Polygon([(498700, 4540000), (499950, 4540050), (499900, 4540450), (498656, 4540420)]),
     (40, 96, 44)),
    (1004, "relation", "area", {"natural": "water", "water": "pond", "name": "Miller Pond"},
     Polygon([(500300, 4540900), (500700, 4540880), (500760, 4541200), (500350, 4541250)]),
     (30, 60, 110)),
    (1005, "way", "area", {"leisure": "park", "name": "Linden Park"},
     box(500850, 4540850, 501300, 4541300), (90, 150, 70)),
    (1006, "way", "area", {"building": "house"},
     box(499100, 4540700, 499118, 4540716), (200, 90, 80)),
    (2001, "way", "line", {"highway": "residential", "name": "Maple Street", "surface": "asphalt"},
     LineString([(498656, 4540600), (499500, 4540640), (500200, 4540650), (501344, 4540700)]),
     (235, 235, 235)),
    (2002, "way", "line", {"waterway": "stream", "name": "Mill Creek"},
     LineString([(499300, 4541344), (499350, 4541000), (499600, 4540700), (500100, 4540300),
                 (500400, 4540000)]),
     (70, 110, 170)),
]

_CAPTIONS = [
    "The {what} occupies {share} of the view, stretching across the {pos} part of the scene{name}.",
    "A {what} spreads over {share} of this aerial image, mostly in the {pos} area{name}.",
    "Seen from above, {share} of the patch is {what}, concentrated toward the {pos}{name}.",
    "This image shows {what} covering {share} of the frame near the {pos}{name}; "
    "its edges continue beyond the view.",
]
_LINE_CAPTIONS = [
    "A {what} runs from the {pos} across the view{name}, a clear linear feature in the scene.",
    "The view is crossed by a {what} that starts near the {pos}{name} and leaves the frame.",
]
_REVISIONS = [
    "From overhead, the patch is dominated by {what}{name}.",
    "An aerial scene in which {what} takes up much of the frame{name}.",
    "Mostly {what} here{name}, seen from high above.",
]
_WHAT = {"farmland": "cultivated farmland", "residential": "residential neighbourhood",
         "forest": "broadleaf forest", "water": "pond", "park": "public park",
         "house": "single house", "residential_road": "residential street",
         "stream": "winding stream"}


@dataclass(frozen=True)
class DemoSummary:
    path: Path
    patches: int
    requests: int
    captions: int


def _what(tags: dict[str, str]) -> str:
    if tags.get("highway"):
        return _WHAT["residential_road"]
    for key in ("landuse", "natural", "leisure", "waterway", "building"):
        if key in tags:
            return _WHAT.get(tags.get("water", tags[key]), tags[key])
    return "feature"


def _position(u: float, v: float) -> str:
    col = "left" if u < 1 / 3 else "right" if u > 2 / 3 else "center"
    row = "bottom" if v < 1 / 3 else "top" if v > 2 / 3 else "center"
    return "center" if col == row == "center" else f"{row}-{col}"


def _paint(patch: Polygon, elements) -> Image.Image:
    """A JPEG-able RGB patch with the elements painted in their pixel positions."""
    x0, y0, x1, y1 = patch.bounds
    rng = random.Random(int(x0 * 7 + y0))
    img = Image.new("RGB", (PATCH_PX, PATCH_PX), (120 + rng.randint(0, 20), 130, 90))
    draw = ImageDraw.Draw(img)

    def px(coords):
        return [((x - x0) / (x1 - x0) * PATCH_PX, (y1 - y) / (y1 - y0) * PATCH_PX)
                for x, y in coords]

    for _oid, _t, kind, _tags, geom, colour in elements:
        part = geom.intersection(patch)
        if part.is_empty:
            continue
        parts = getattr(part, "geoms", [part])
        for piece in parts:
            if kind == "area" and piece.geom_type == "Polygon":
                draw.polygon(px(piece.exterior.coords), fill=colour)
            elif piece.geom_type == "LineString":
                draw.line(px(piece.coords), fill=colour, width=9)
    for _ in range(300):  # texture so the JPEG is not flat
        x, y = rng.randrange(PATCH_PX), rng.randrange(PATCH_PX)
        shade = rng.randint(-25, 25)
        r, g, b = img.getpixel((x, y))
        draw.point((x, y), fill=(max(r + shade, 0), max(g + shade, 0), max(b + shade, 0)))
    return img


def _pick(patch: Polygon, rng: random.Random):
    """The element a request describes: the largest area (p 0.6) or the longest line."""
    area = patch.area
    areas = [(e, e[4].intersection(patch).area / area) for e in _ELEMENTS if e[2] == "area"]
    areas = [a for a in areas if a[1] > 0.05]
    lines = [(e, e[4].intersection(patch).length / (PATCH_PX * GSD_M)) for e in _ELEMENTS
             if e[2] == "line"]
    lines = [ln for ln in lines if ln[1] > 0.3]
    if areas and (not lines or rng.random() < 0.6):
        return max(areas, key=lambda a: a[1])
    return max(lines, key=lambda ln: ln[1]) if lines else None


def _centre(geom, patch: Polygon) -> tuple[float, float]:
    x0, y0, x1, y1 = patch.bounds
    c = geom.intersection(patch).centroid
    return (c.x - x0) / (x1 - x0), (c.y - y0) / (y1 - y0)


def _payload(element, share: float, patch: Polygon, image_name: str, patch_id: int) -> dict:
    """A request payload shaped like the caption_requests mart's: patch, element, geometry."""
    osm_id, osm_type, kind, tags, geom, _ = element
    x0, y0, x1, y1 = patch.bounds
    clipped = geom.intersection(patch)
    unit = affinity.affine_transform(clipped, [1 / (x1 - x0), 0, 0, 1 / (y1 - y0),
                                               -x0 / (x1 - x0), -y0 / (y1 - y0)])
    c = unit.centroid
    geometry = {"kind": kind, "extends_beyond_view": not clipped.equals(geom)}
    if kind == "area":
        simple = unit.simplify(0.02)
        geometry.update(positions=[_position(c.x, c.y)], area_norm=round(share, 3),
                        area_m2=round(clipped.area, 1),
                        shape="rectangular" if len(simple.exterior.coords) <= 5 else "irregular",
                        outline=shapely.to_wkt(simple, rounding_precision=3))
    else:
        (ux0, uy0), (ux1, uy1) = unit.coords[0], unit.coords[-1]
        geometry.update(start_position=_position(ux0, uy0), end_position=_position(ux1, uy1),
                        length_norm=round(share, 3), length_m=round(clipped.length, 1),
                        outline=shapely.to_wkt(unit, rounding_precision=3))
    element_id = osm_id * 10 + {"node": 1, "way": 2, "relation": 3}[osm_type]
    return {
        "task": 1 if kind == "area" else 2,
        "patch": {"patch_id": patch_id, "image_name": image_name, "side_m": PATCH_PX * GSD_M},
        "element": {"element_id": element_id, "osm_type": osm_type, "osm_id": osm_id,
                    "name": tags.get("name"),
                    "tags": [{"key": k, "value": v, "meaning": None}
                             for k, v in sorted(tags.items()) if k != "name"]},
        "geometry": geometry,
    }


def build_demo_warehouse(path: str | Path, *, seed: int = 0, images: int = 2) -> DemoSummary:
    """Write the demo relations into the warehouse at ``path`` (created when missing)."""
    rng = random.Random(seed)
    path = Path(path)
    start = datetime(2026, 11, 20, 9, 0, 0)
    image_rows, patch_rows, request_rows, caption_rows, image_file_rows = [], [], [], [], []
    patch_id = 0
    tick = 0
    for i in range(images):
        x0 = 498656 + (i % 2) * SIDE_M + (i // 2) * 2 * SIDE_M
        y0 = 4540000.0
        quarter = "nw" if i % 2 == 0 else "ne"
        name = f"m_4107501_{quarter}_18_060_2022110{8 + i // 2}"
        image_rows.append((name, f"2022-11-0{8 + i // 2}", x0, y0, f"demo://naip/{name}.tif"))
        for row in range(0, 5, 2):
            for col in range(0, 5, 2):
                patch_id += 1
                px0, py1 = x0 + col * PATCH_PX * GSD_M, y0 + SIDE_M - row * PATCH_PX * GSD_M
                patch = box(px0, py1 - PATCH_PX * GSD_M, px0 + PATCH_PX * GSD_M, py1)
                patch_rows.append((patch_id, name, col, row, col * PATCH_PX, row * PATCH_PX,
                                   patch.wkt))
                rel = f"images/{name}/{patch_id}.jpg"
                if patch_id % 9 == 5:  # one failed download per image
                    image_file_rows.append((patch_id, rel, "failed", "HTTP 503 from Earth Engine",
                                            3))
                    continue
                out = path.parent / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                _paint(patch, _ELEMENTS).save(out, quality=85)
                image_file_rows.append((patch_id, rel, "ok", None, 1))
                picked = _pick(patch, rng)
                if picked is None:
                    continue
                element, share = picked
                task = 1 if element[2] == "area" else 2
                payload = _payload(element, share, patch, name, patch_id)
                request_id = f"{patch_id}-t{task}"
                element_id = payload["element"]["element_id"]
                request_rows.append((request_id, patch_id, task, element_id,
                                     "task1_area" if task == 1 else "task2_line",
                                     json.dumps(payload)))
                tags = element[3]
                label = f", known as {tags['name']}" if "name" in tags else ""
                words = {"what": _what(tags), "share": f"about {round(share * 100)} percent",
                         "pos": _position(*_centre(element[4], patch)).replace("-", " "),
                         "name": label}
                annotator = ANNOTATORS[patch_id % 2]
                run_id = f"run-{patch_id % 2 + 1}"
                attempts = []
                if patch_id % 7 == 3:
                    attempts.append(("rejected", "too_few_words", "Farmland."))
                if patch_id % 11 == 4:
                    attempts.append(("failed", "timeout after 60 s", None))
                templates = _CAPTIONS if task == 1 else _LINE_CAPTIONS
                attempts.append(("accepted", None, rng.choice(templates).format(**words)))
                for attempt, (status, reason, text) in enumerate(attempts, start=1):
                    tick += 1
                    caption_rows.append((f"{request_id}-a{attempt}", request_id, patch_id, task,
                                         attempt, text, annotator, run_id, status, reason,
                                         start + timedelta(seconds=tick * 3)))
                tick += 1
                revision = rng.choice(_REVISIONS).format(**words)
                caption_rows.append((f"{patch_id}-t3-1-a1", f"{patch_id}-t3-1", patch_id, 3, 1,
                                     revision, ANNOTATORS[(patch_id + 1) % 2],
                                     f"run-{(patch_id + 1) % 2 + 1}", "accepted", None,
                                     start + timedelta(seconds=tick * 3)))
    with Warehouse(path) as wh:
        _write(wh, image_rows, patch_rows, request_rows, caption_rows, image_file_rows)
    return DemoSummary(path, len(patch_rows), len(request_rows), len(caption_rows))


def _prompt_name(task: int) -> str:
    return {1: "task1_area", 2: "task2_line"}.get(task, "task3_revision")


def _to4326(native: str) -> str:
    return f"ST_Transform({native}, 'EPSG:{EPSG}', 'EPSG:4326', always_xy := true)"


def _write(wh: Warehouse, images, patches, requests, captions, image_files) -> None:
    con = wh.con
    con.execute("CREATE OR REPLACE TEMP TABLE demo_images(image_name VARCHAR, acquired_on DATE, "
                "x0 DOUBLE, y0 DOUBLE, uri VARCHAR)")
    con.executemany("INSERT INTO demo_images VALUES (?, ?, ?, ?, ?)", images)
    con.execute(f"""
        CREATE OR REPLACE TABLE stg_naip__images AS
        SELECT image_name, acquired_on, {EPSG} AS epsg, {GSD_M} AS gsd_m,
               {IMAGE_PX} AS width_px, {IMAGE_PX} AS height_px,
               {_to4326(f"ST_MakeEnvelope(x0, y0, x0 + {SIDE_M}, y0 + {SIDE_M})")} AS geom,
               ST_MakeEnvelope(x0, y0, x0 + {SIDE_M}, y0 + {SIDE_M}) AS native_bounds,
               'demo' AS source, uri
        FROM demo_images""")
    con.execute("CREATE OR REPLACE TEMP TABLE demo_patches(patch_id BIGINT, image_name VARCHAR, "
                "col INT, row INT, px_x INT, px_y INT, wkt VARCHAR)")
    con.executemany("INSERT INTO demo_patches VALUES (?, ?, ?, ?, ?, ?, ?)", patches)
    con.execute(f"""
        CREATE OR REPLACE TABLE int_patches_gridded AS
        SELECT patch_id, image_name, col, row, px_x, px_y, {PATCH_PX} AS px_size, {EPSG} AS epsg,
               ST_GeomFromText(wkt) AS geom_native,
               {_to4326("ST_GeomFromText(wkt)")} AS geom
        FROM demo_patches""")
    con.execute("CREATE OR REPLACE TEMP TABLE demo_elements(osm_id BIGINT, osm_type VARCHAR, "
                "kind VARCHAR, tags MAP(VARCHAR, VARCHAR), wkt VARCHAR)")
    con.executemany("INSERT INTO demo_elements VALUES (?, ?, ?, ?, ?)",
                    [(e[0], e[1], e[2], e[3], e[4].wkt) for e in _ELEMENTS])
    con.execute(f"""
        CREATE OR REPLACE TABLE stg_osm__elements AS
        SELECT osm_id * 10 + CASE osm_type WHEN 'node' THEN 1 WHEN 'way' THEN 2 ELSE 3 END
                   AS element_id,
               osm_type, osm_id, kind, tags, {_to4326("ST_GeomFromText(wkt)")} AS geom
        FROM demo_elements""")
    con.execute("CREATE OR REPLACE TABLE caption_requests(request_id VARCHAR, patch_id BIGINT, "
                "task INTEGER, element_id BIGINT, prompt_name VARCHAR, payload JSON)")
    con.executemany("INSERT INTO caption_requests VALUES (?, ?, ?, ?, ?, ?)", requests)
    for table in ("captions", "patch_images", "_meta.caption_runs"):
        con.execute(f"DELETE FROM {table}")  # created empty by the DDL on every writable open
    con.executemany(
        "INSERT INTO captions (caption_id, request_id, patch_id, task, attempt, text, annotator, "
        "backend, prompt_name, prompt_hash, sampling, status, reject_reason, tokens_in, "
        "tokens_out, latency_s, run_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'openai', ?, "
        "'sha256:demo', '{\"temperature\": 0.7, \"max_tokens\": 300}', ?, ?, 220, ?, ?, ?, ?)",
        [(cid, req, pid, task, att, text, ann, _prompt_name(task), status, reason,
          None if text is None else len(text.split()) * 4 // 3, 1.5 + (i % 5) * 0.25, run, at)
         for i, (cid, req, pid, task, att, text, ann, run, status, reason, at)
         in enumerate(captions)])
    con.executemany("INSERT INTO patch_images "
                    "(patch_id, path, status, reason, attempts, fetched_at) "
                    "VALUES (?, ?, ?, ?, ?, TIMESTAMP '2026-11-19 12:00:00')", image_files)
    con.execute("""
        INSERT INTO _meta.caption_runs (run_id, started_at, finished_at, status, backend,
            annotator, target, tasks, requests, accepted, rejected, failed, tokens_in, tokens_out,
            wall_s)
        SELECT run_id, min(created_at), max(created_at), 'finished', any_value(backend),
               any_value(annotator), 'demo://llm', '1,2,3', count(*),
               count(*) FILTER (status = 'accepted'), count(*) FILTER (status = 'rejected'),
               count(*) FILTER (status = 'failed'), sum(tokens_in), coalesce(sum(tokens_out), 0),
               date_diff('millisecond', min(created_at), max(created_at)) / 1000.0 + 3
        FROM captions GROUP BY run_id""")
    con.execute("DELETE FROM _meta.sources WHERE uri LIKE 'demo://%'")
    con.execute("""
        INSERT INTO _meta.sources (kind, name, uri, size_bytes, sha256, snapshot_at, details)
        VALUES ('osm', 'demo-town.osm.pbf', 'demo://osm/demo-town.osm.pbf', 48213, NULL,
                TIMESTAMP '2022-12-01 00:00:00', '{"replication": "demo"}'),
               ('naip', 'USDA/NAIP/DOQQ (demo)', 'demo://naip', NULL, NULL,
                TIMESTAMP '2022-11-08 00:00:00', NULL)""")
