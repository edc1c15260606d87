"""``ingest naip``: footprints from a source into ``raw.naip_images`` and ``_meta.sources``.

Re-ingesting an image replaces its row (the latest ingest of a name wins). Each ingest that
changes something adds one ``_meta.sources`` row (kind ``naip``) whose ``sha256`` covers the
image list, so the next ``build`` sees the change; ingesting the same set twice in a row
changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, time

from ..progress import QUIET, Reporter
from ..warehouse import Warehouse
from .naming import name_problem
from .records import Failure, ImageRecord, Notice
from .sources import FootprintSource


@dataclass
class IngestResult:
    images: list[ImageRecord] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    source_id: int | None = None
    unchanged: bool = False


_COLUMNS = (
    "image_name",
    "source",
    "uri",
    "acquired_on",
    "date_from",
    "epsg",
    "gsd_m",
    "width_px",
    "height_px",
    "band_count",
    "xmin",
    "ymin",
    "xmax",
    "ymax",
    "footprint",
    "footprint_crs",
    "source_id",
    "details",
)


def _known_names(wh: Warehouse) -> dict[str, str]:
    """The images already in the warehouse, by their case-folded name."""
    rows = wh.con.execute("SELECT DISTINCT image_name FROM raw.naip_images").fetchall()
    return {name.casefold(): name for (name,) in rows}


def collect(source: FootprintSource, wh: Warehouse, reporter: Reporter = QUIET) -> IngestResult:
    """Scan the source. An input is a failure (reported, the rest go on) when its image name
    cannot name a folder safely (``naming.name_problem``), when the name was already seen in
    this scan, or when it differs from another image's name only by case: the two patch
    folders would be one on a case-insensitive file system."""
    result = IngestResult()
    seen: dict[str, str] = {}
    known = _known_names(wh)
    folded: dict[str, str] = {}
    with reporter.bar(f"reading {source.name} footprints", source.count(wh.con)) as bar:
        for item in source.scan(wh.con):
            if isinstance(item, Notice):
                result.notices.append(item)
                reporter.warn(str(item))
                continue
            bar.advance()
            problem = None if isinstance(item, Failure) else name_problem(item.image_name)
            twin = None
            if problem is None and not isinstance(item, Failure):
                key = item.image_name.casefold()
                twin = folded.get(key) or known.get(key)
                twin = None if twin == item.image_name else twin
            if isinstance(item, Failure):
                result.failures.append(item)
            elif problem:
                result.failures.append(Failure(_shown_uri(item.uri), problem))
            elif twin:
                result.failures.append(
                    Failure(
                        item.uri,
                        f"image name {item.image_name} differs from {twin} only by case: "
                        "their patch folders would collide",
                    )
                )
            elif item.image_name in seen:
                result.failures.append(
                    Failure(
                        item.uri,
                        f"image name {item.image_name} already used by {seen[item.image_name]}",
                    )
                )
            else:
                seen[item.image_name] = item.uri
                folded[item.image_name.casefold()] = item.image_name
                result.images.append(item)
    return result


def _shown_uri(uri: str) -> str:
    """A URI fit for one line of a report: control characters escaped, long ones cut."""
    text = uri.encode("unicode_escape", "backslashreplace").decode("ascii")
    return text if len(text) <= 200 else text[:200] + "..."


def set_digest(records: list[ImageRecord]) -> str:
    return hashlib.sha256("\n".join(sorted(r.fingerprint() for r in records)).encode()).hexdigest()


def _source_row(source: FootprintSource, records: list[ImageRecord], failures: int) -> list:
    dates = [r.acquired_on for r in records if r.acquired_on]
    sizes = [r.size_bytes for r in records if r.size_bytes is not None]
    details = {
        "source": source.name,
        "images": len(records),
        "failed": failures,
        "epsg": sorted({r.epsg for r in records}),
        "gsd_m": sorted({r.gsd_m for r in records}),
    }
    return [
        "naip",
        source.label,
        source.uri,
        sum(sizes) if sizes else None,
        set_digest(records),
        datetime.combine(max(dates), time()) if dates else None,
        json.dumps(details),
    ]


def store(wh: Warehouse, source: FootprintSource, result: IngestResult) -> IngestResult:
    """Write the collected images; record the source unless the same set was just ingested."""
    records = result.images
    if not records:
        return result
    digest = set_digest(records)
    last = wh.con.execute(
        "SELECT uri, sha256 FROM _meta.sources WHERE kind = 'naip' ORDER BY source_id DESC LIMIT 1"
    ).fetchone()
    if last == (source.uri, digest):
        result.unchanged = True
        return result
    placeholders = ", ".join(
        "ST_GeomFromText(?::VARCHAR)" if c == "footprint" else "?" for c in _COLUMNS
    )
    wh.con.execute("BEGIN")
    try:
        result.source_id = wh.con.execute(
            "INSERT INTO _meta.sources (kind, name, uri, size_bytes, sha256, snapshot_at, details) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING source_id",
            _source_row(source, records, len(result.failures)),
        ).fetchone()[0]
        wh.con.execute(
            "DELETE FROM raw.naip_images WHERE image_name IN (SELECT unnest(?))",
            [[r.image_name for r in records]],
        )
        wh.con.executemany(
            f"INSERT INTO raw.naip_images ({', '.join(_COLUMNS)}) VALUES ({placeholders})",
            [
                [
                    r.image_name,
                    r.source,
                    r.uri,
                    r.acquired_on,
                    r.date_from,
                    r.epsg,
                    r.gsd_m,
                    r.width_px,
                    r.height_px,
                    r.band_count,
                    r.xmin,
                    r.ymin,
                    r.xmax,
                    r.ymax,
                    r.footprint_wkt,
                    r.footprint_crs,
                    result.source_id,
                    json.dumps(r.details),
                ]
                for r in records
            ],
        )
        wh.con.execute("COMMIT")
    except BaseException:
        wh.con.execute("ROLLBACK")
        raise
    return result


def ingest_naip(wh: Warehouse, source: FootprintSource, reporter: Reporter = QUIET) -> IngestResult:
    """Scan ``source`` and store its usable images; failures are returned, not raised."""
    return store(wh, source, collect(source, wh, reporter))
