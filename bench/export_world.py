"""A warehouse of N exportable samples in seconds, for bench/export.py and bench/scale.py.

Kept by hand because the benchmarks time the export at 5,000 to 20,000 samples, which the
real pipeline (a town that large, captions, images fetch) takes minutes to build; the test
suite uses the sample warehouse the real stages build (tests/sample_world.py) instead.

It fills the upstream relations the export marts read (``caption_requests``,
``int_patches_gridded``, ``stg_naip__images``, ``stg_osm__elements``) with the columns of
docs/architecture.md, rows of the tables declared in sql/00_ddl/ (``captions``,
``patch_images``, ``_meta.sources``), and real 448 x 448 JPEG patches beside the warehouse;
then it builds the export's marts (and the images' OSM times) from their own SQL files.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from rsteller_db.warehouse import Warehouse

IMAGES = ("m_4107501_ne_18_060_20221108", "m_4107501_nw_18_060_20221108",
          "m_4107502_se_18_060_20220915", "m_4107502_sw_18_060_20220915")
MART_FILES = ("30_dataset_samples.sql", "32_export_samples.sql",  # what the exporter reads
              "33_export_osm_snapshots.sql")
STAGING_FILES = ("06_stg_osm__image_snapshots.sql",)  # the OSM time of each image
ANNOTATORS = ("mistralai/Mistral-Nemo-Instruct-2407", "mistralai/Mistral-Small-Instruct-2409")

_UPSTREAM = """
CREATE TABLE IF NOT EXISTS caption_requests (
    request_id VARCHAR, patch_id BIGINT, task INTEGER, element_id BIGINT, prompt_name VARCHAR,
    payload JSON);
CREATE TABLE IF NOT EXISTS int_patches_gridded (
    patch_id BIGINT, image_name VARCHAR, col INTEGER, "row" INTEGER, px_x INTEGER, px_y INTEGER,
    px_size INTEGER, epsg INTEGER, geom_native GEOMETRY, geom GEOMETRY, partition_key VARCHAR);
CREATE TABLE IF NOT EXISTS stg_naip__images (
    image_name VARCHAR, acquired_on DATE, epsg INTEGER, gsd_m DOUBLE, width_px INTEGER,
    height_px INTEGER, geom GEOMETRY, native_bounds DOUBLE[], source VARCHAR, uri VARCHAR);
CREATE TABLE IF NOT EXISTS stg_osm__elements (
    element_id BIGINT, osm_type VARCHAR, osm_id BIGINT, kind VARCHAR,
    tags MAP(VARCHAR, VARCHAR), geom GEOMETRY, osm_from TIMESTAMP, osm_until TIMESTAMP);
"""

# Patches 1..n. Every 11th patch has only a failed caption (not exportable); every 7th has a
# second accepted Task 1/2 caption with a higher caption_id (the exporter keeps the lowest);
# every 5th has a rejected revision besides its accepted ones. caption_id follows the
# captioning runner: '{request_id}-a{attempt}'.
_ROWS = """
INSERT INTO int_patches_gridded
SELECT p, $images[1 + p % 4], p % 50, p // 50, (p % 50) * 896, (p // 50) * 896, 448, 26918,
       st_point(500000 + p * 537.6, 4500000), st_makeenvelope(-75 + p * 0.0063, 41.0,
       -75 + p * 0.0063 + 0.0032, 41.0024), 'n41.00w076.00'
FROM range(1, $n + 1) t(p);
INSERT INTO stg_naip__images
SELECT name, strptime(right(name, 8), '%Y%m%d')::DATE, 26918, 0.6, 10000, 12000, NULL, NULL,
       'local', 'file:///naip/' || name || '.tif'
FROM (SELECT unnest($images) AS name);
INSERT INTO stg_osm__elements
SELECT p * 10 + 2, 'way', p, CASE WHEN p % 2 = 0 THEN 'area' ELSE 'line' END,
       CASE WHEN p % 2 = 0 THEN map(['building', 'name'], ['school', 'Hall ' || p])
            ELSE map(['highway', 'name'], ['residential', 'Road ' || p]) END, NULL,
       '-infinity', 'infinity'
FROM range(1, $n + 1) t(p);
INSERT INTO caption_requests
SELECT p || '-t' || (1 + p % 2), p, 1 + p % 2, p * 10 + 2, 'describe_v1', '{}'
FROM range(1, $n + 1) t(p);
INSERT INTO captions
SELECT c.request_id || '-a' || c.attempt, c.request_id, c.p, c.task, c.attempt, c.text,
       $annotators[1 + c.id % 2], 'fake',
       'describe_v1', 'abc123', '{"temperature": 0.7}', c.status,
       CASE c.status WHEN 'accepted' THEN NULL ELSE 'word count' END,
       120, 40, 0.5, 'run1', TIMESTAMP '2026-01-01 00:00:00' + to_seconds(c.id)
FROM (
    SELECT p * 10 AS id, p || '-t' || (1 + p % 2) AS request_id, p, 1 + p % 2 AS task,
           1 AS attempt,
           CASE WHEN p % 11 = 0 THEN 'failed' ELSE 'accepted' END AS status,
           'A ' || CASE WHEN p % 2 = 0 THEN 'school building named Hall '
                        ELSE 'residential road named Road ' END || p
               || ' lies in the centre of the view, taking up about a third of it.' AS text
    FROM range(1, $n + 1) t(p)
    UNION ALL
    SELECT p * 10 + 7, p || '-t' || (1 + p % 2), p, 1 + p % 2, 2, 'accepted',
           'A later caption of patch ' || p || ' that the exporter must not pick.'
    FROM range(1, $n + 1) t(p) WHERE p % 7 = 0 AND p % 11 <> 0
    UNION ALL
    SELECT p * 10 + 3 + k, p || '-t3-' || k, p, 3, 1, 'accepted',
           'Revision ' || k || ' of patch ' || p || ': the view centres on one named feature.'
    FROM range(1, $n + 1) t(p), range(1, $revisions + 1) r(k) WHERE p % 11 <> 0
    UNION ALL
    SELECT p * 10 + 9, p || '-t3-9', p, 3, 1, 'rejected', 'Revised: * not kept'
    FROM range(1, $n + 1) t(p) WHERE p % 5 = 0
) c;
INSERT INTO patch_images
SELECT p, 'images/' || $images[1 + p % 4] || '/' || p || '.jpg', 'ok', NULL, 1,
       TIMESTAMP '2026-01-02 00:00:00'
FROM range(1, $n + 1) t(p);
INSERT INTO _meta.sources (kind, name, uri, size_bytes, sha256, snapshot_at, details)
VALUES ('osm', 'town.osm.pbf', 'file:///sample/town.osm.pbf', 1000, repeat('a', 64),
        TIMESTAMP '2022-12-01 00:00:00', '{"replication": "synthetic"}'),
       ('naip', 'local NAIP', 'file:///sample/naip', 2000, repeat('b', 64),
        TIMESTAMP '2022-11-08 00:00:00', '{"images": 4}');
"""


@dataclass(frozen=True)
class SyntheticWarehouse:
    patches: int
    exportable: list[int]  # patch ids with an accepted Task 1/2 caption, in export order


def texture_jpegs(count: int, size: int = 448, seed: int = 0, quality: int = 90) -> list[bytes]:
    """``count`` distinct aerial-looking JPEGs (smooth fields plus grain), about 40-70 kB each."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        coarse = rng.integers(40, 200, size=(size // 32, size // 32, 3), dtype=np.uint8)
        field = Image.fromarray(coarse).resize((size, size), Image.Resampling.BICUBIC)
        pixels = np.asarray(field, dtype=np.int16) + rng.integers(-25, 25, (size, size, 3))
        buffer = io.BytesIO()
        Image.fromarray(pixels.clip(0, 255).astype(np.uint8), "RGB").save(
            buffer, "JPEG", quality=quality)
        out.append(buffer.getvalue())
    return out


def build_synthetic(wh: Warehouse, patches: int, *, revisions: int = 1, distinct_images: int = 8,
                    seed: int = 0, link_images: bool = False) -> SyntheticWarehouse:
    """Fill ``wh`` with ``patches`` patches, their captions and their cached JPEG files.

    ``link_images`` hard-links the patch files to a few distinct images (benchmarks at scale
    without filling the disk); otherwise every patch has its own copy.
    """
    con = wh.con
    con.execute(_UPSTREAM)  # captions, patch_images: sql/00_ddl, created by the open
    params = {"n": patches, "revisions": revisions, "images": list(IMAGES),
              "annotators": list(ANNOTATORS)}
    for statement in _ROWS.split(";"):
        if statement.strip():
            used = {k: v for k, v in params.items() if f"${k}" in statement}
            con.execute(statement, used)
    pool = texture_jpegs(distinct_images, seed=seed)
    root = Path(wh.data_dir)
    originals = []
    if link_images:
        (root / "images").mkdir(exist_ok=True)
        for i, data in enumerate(pool):
            originals.append(root / "images" / f"texture-{i}.jpg")
            originals[-1].write_bytes(data)
    rows = con.execute("SELECT patch_id, path FROM patch_images ORDER BY 1").fetchall()
    for patch_id, path in rows:
        file = root / path
        file.parent.mkdir(parents=True, exist_ok=True)
        if link_images:
            file.hardlink_to(originals[patch_id % len(pool)])
        else:
            file.write_bytes(pool[patch_id % len(pool)])
    exportable = [p for p in range(1, patches + 1) if p % 11]
    return SyntheticWarehouse(patches, exportable)


def synthetic_warehouse(path: Path, patches: int, **kwargs) -> SyntheticWarehouse:
    """Create the warehouse file ``path``, fill it, and build the export's marts.

    Only the marts' own SQL files run (from a copy of it in a scratch ``sql/`` folder), so the
    synthetic warehouse does not depend on the other stages being buildable.
    """
    import shutil
    import tempfile

    from rsteller_db.paths import sql_folder
    from rsteller_db.stages import LAYERS, build

    with Warehouse(path) as wh, tempfile.TemporaryDirectory() as scratch:
        made = build_synthetic(wh, patches, **kwargs)
        sql_dir = Path(scratch)
        for layer in ("seeds", *LAYERS):
            sql_folder(layer, sql_dir).mkdir()
        for layer, names in (("staging", STAGING_FILES), ("marts", MART_FILES)):
            for name in names:
                shutil.copy(sql_folder(layer) / name, sql_folder(layer, sql_dir) / name)
        build(wh, sql_dir=sql_dir)
    return made
