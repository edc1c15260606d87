"""The HTML preview: patch images with the described OSM element drawn over them.

One self-contained page (images embedded as data URIs, no network): for each sample, the
patch JPEG with the element's outline as an SVG overlay, the element facts from the request
payload, and the sample's captions with their annotators.

The samples are the ``preview_samples`` mart (sql/40_marts): the exported samples
(``dataset_samples``) whose image was fetched; ``--where`` conditions are checked against its
columns. The outline is the mart's ``outline_wkb`` (the element clipped to the patch, in the
unit square, origin bottom-left), scaled here to the JPEG's pixels.
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import shapely
import shapely.errors
from PIL import Image

from .. import defaults
from ..errors import InputError, UnsafePathError
from ..paths import inside
from ..progress import QUIET, Reporter
from ..warehouse import Warehouse
from .card import BUILT_BY
from .where import checked_query

RELATION = "preview_samples"


@dataclass
class PreviewSample:
    request_id: str
    patch_id: int
    image_name: str
    task: int
    element: str
    image_uri: str
    width: int
    height: int
    shapes: list[tuple[str, str]]  # (svg element kind, path data or circle attributes)
    facts: list[tuple[str, str]]
    tags: list[tuple[str, str]]
    captions: list[tuple[int, str, str]]  # (task, annotator, text)


@dataclass
class PreviewResult:
    path: Path
    samples: list[PreviewSample]
    matched: int
    skipped: list[str] = field(default_factory=list)


def _require(wh: Warehouse) -> None:
    for name in ("caption_requests", RELATION):
        if not wh.relation_exists(name):
            raise InputError(f"the preview needs `{name}`, which is not built yet: "
                             f"run `{BUILT_BY.get(name, 'rsteller-db build')}`")


def sample_columns(wh: Warehouse) -> list[str]:
    """The columns a ``--where`` condition may use."""
    _require(wh)
    return [r[0] for r in wh.con.execute(f"describe {RELATION}").fetchall()]


def select_samples(wh: Warehouse, *, n: int = defaults.PREVIEW_SAMPLES, task: int | None = None,
                   where: str | None = None) -> tuple[list[dict], int]:
    """Up to ``n`` samples (a fixed spread over the patches) and how many matched in all."""
    if n < 1:
        raise InputError("--n must be 1 or more")
    if task not in (None, 1, 2, 3):
        raise InputError(f"--task must be 1, 2 or 3, got {task}")
    columns = sample_columns(wh)
    base = (checked_query(wh.con, where, RELATION, columns) if where
            else f"SELECT * FROM {RELATION}")
    extra = ""
    if task in (1, 2):
        extra = f"where task = {int(task)}"
    elif task == 3:
        extra = "where revisions > 0"
    sql = f"select * from ({base}) as picked {extra}"
    total = wh.con.execute(f"select count(*) from ({sql})").fetchone()[0]
    cur = wh.con.execute(f"{sql} order by hash(patch_id), request_id limit {int(n)}")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()], total


def _svg_shapes(geom, x0: float, y0: float, x1: float, y1: float, w: int, h: int):
    """SVG (kind, data) pairs of a geometry in the image CRS, scaled to the JPEG's pixels."""
    sx, sy = w / (x1 - x0), h / (y1 - y0)

    def pts(coords) -> str:
        return " L ".join(f"{(x - x0) * sx:.1f} {(y1 - y) * sy:.1f}" for x, y, *_ in coords)

    out = []
    for part in getattr(geom, "geoms", [geom]):
        if part.is_empty:
            continue
        if part.geom_type == "Polygon":
            rings = [part.exterior, *part.interiors]
            out.append(("area", " ".join(f"M {pts(r.coords)} Z" for r in rings)))
        elif part.geom_type in ("LineString", "LinearRing"):
            out.append(("line", f"M {pts(part.coords)}"))
        elif part.geom_type == "Point":
            out.append(("point", f"{(part.x - x0) * sx:.1f} {(y1 - part.y) * sy:.1f}"))
        else:
            out.extend(_svg_shapes(part, x0, y0, x1, y1, w, h))
    return out


def payload_facts(payload: dict) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(facts, tags) to show: the geometry facts and the element's name and tags.

    Reads the caption_requests payload (``element.tags`` as a list of key/value objects,
    ``element.name``, ``geometry``); a flat payload with a ``tags`` object also works.
    """
    element = payload.get("element") if isinstance(payload.get("element"), dict) else {}
    geometry = payload.get("geometry") if isinstance(payload.get("geometry"), dict) else payload
    raw = element.get("tags", payload.get("tags"))
    if isinstance(raw, dict):
        tags = [(str(k), _fact(v)) for k, v in raw.items()]
    elif isinstance(raw, list):
        tags = [(str(t.get("key")), _fact(t.get("value"))) for t in raw if isinstance(t, dict)]
    else:
        tags = []
    if element.get("name"):
        tags.append(("name", str(element["name"])))
    skip = {"outline", "tags", "element", "patch", "task"}
    facts = [(k, _fact(v)) for k, v in geometry.items() if k not in skip]
    return facts, sorted(tags)


def _fact(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return ", ".join(_fact(v) for v in value)
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _load_image(path: Path) -> tuple[str, int, int]:
    data = path.read_bytes()
    with Image.open(io.BytesIO(data)) as img:
        img.verify()
    with Image.open(io.BytesIO(data)) as img:
        width, height = img.size
        mime = Image.MIME.get(img.format or "JPEG", "image/jpeg")
    return f"data:{mime};base64,{base64.b64encode(data).decode()}", width, height


def build_samples(wh: Warehouse, rows: list[dict], reporter: Reporter = QUIET):
    samples, skipped = [], []
    for row in reporter.track(rows, "embedding patch images"):
        try:
            path = inside(wh.data_dir, row["image_path"] or "(no path recorded)")
            uri, width, height = _load_image(path)
        except (OSError, ValueError, UnsafePathError) as exc:  # missing, unreadable, outside
            skipped.append(f"{row['request_id']}: {row['image_path']} ({exc.__class__.__name__})")
            continue
        payload = json.loads(row["payload"]) if isinstance(row["payload"], str) else row["payload"]
        facts, tags = payload_facts(payload or {})
        shapes = []
        if row["outline_wkb"] is not None:
            shapes = _svg_shapes(shapely.from_wkb(row["outline_wkb"]), 0.0, 0.0, 1.0, 1.0,
                                 width, height)
        if not tags and row["tags"]:
            tags = sorted((str(k), str(v)) for k, v in row["tags"].items())
        element = (f"{row['osm_type']} {row['osm_id']}" if row.get("osm_type")
                   else f"element {row['element_id']}")
        samples.append(PreviewSample(
            request_id=row["request_id"], patch_id=row["patch_id"], image_name=row["image_name"],
            task=row["task"], element=element, image_uri=uri, width=width, height=height,
            shapes=shapes, facts=facts, tags=tags,
            captions=[(c["task"], c["annotator"], c["text"]) for c in row["captions"]]))
    return samples, skipped


def render_preview(samples: list[PreviewSample], *, title: str, query: str, matched: int) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined,
    )
    return env.get_template("preview.html.j2").render(
        samples=samples, title=title, query=query, matched=matched)


def write_preview(wh: Warehouse, out: str | Path = defaults.PREVIEW_FILE, *,
                  n: int = defaults.PREVIEW_SAMPLES,
                  task: int | None = None, where: str | None = None,
                  reporter: Reporter = QUIET) -> PreviewResult:
    """Select samples, embed their images and outlines, and write one HTML page."""
    out = Path(out)
    if out.is_dir():
        raise InputError(f"{out} is a folder: pass --out a file name such as preview.html")
    reporter.step("selecting samples")
    rows, matched = select_samples(wh, n=n, task=task, where=where)
    samples, skipped = build_samples(wh, rows, reporter)
    for line in skipped:
        reporter.warn(f"image missing or unreadable, sample left out: {line}")
    described = " and ".join(x for x in (f"task {task}" if task else "", where or "") if x)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_preview(samples, title=f"{wh.path.name}: {len(samples)} samples",
                                  query=described or "all samples", matched=matched))
    return PreviewResult(out, samples, matched, skipped)
