"""A loopback HTTP server for the remote-imagery tests and the pixel benchmark.

It serves the files under a folder at ``/files/<name>`` with HTTP ``Range`` support (one
range per request, as GDAL's /vsicurl/ asks) and records every byte range it sent, and a
small STAC API at ``/stac``: a landing page, ``/conformance``, one collection and ``/search``
(GET and POST) that filters by collection, bbox and datetime and pages through ``next``
links. Faults are set per file name:

- ``404``, ``500``: every request for the file gets that status;
- ``flaky``: the first ``flaky_failures`` requests for the file get 503, then it is served;
- ``stall``: the reply waits ``stall_s`` seconds (longer than the client's timeout);
- ``truncated``: the file is served as if only its first half existed;
- ``no-range``: ``Range`` is ignored and the whole file is sent with status 200.

``search_fails_from`` makes the search pages from that item offset on fail with 500, and
``stac_down`` every request to the API.

Everything listens on 127.0.0.1 and stops with the ``with`` block.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from rsteller_db.errors import UnsafePathError
from rsteller_db.paths import inside

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
STAC_VERSION = "1.0.0"
CONFORMS = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/item-search",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
]


@dataclass(frozen=True)
class Served:
    """One request as the server answered it."""

    method: str
    path: str
    query: str
    range: str | None  # the Range header, as sent
    status: int
    body_bytes: int  # bytes of the body actually written


@dataclass
class LoopbackServer:
    root: Path
    items: list[dict] = field(default_factory=list)  # the STAC items, in search order
    collection: str = "naip"
    page_size: int = 10  # items per search page unless the client asks for fewer
    faults: dict[str, str] = field(default_factory=dict)  # file name -> fault
    flaky_failures: int = 2
    stall_s: float = 3.0
    stac_down: bool = False  # every /stac request gets 503
    search_fails_from: int | None = None  # search pages from this item offset on get 500
    served: list[Served] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        self._flaky_seen: dict[str, int] = {}
        self._httpd: ThreadingHTTPServer | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> LoopbackServer:
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        assert self._httpd is not None
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start the server with `with`"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def file_url(self, name: str) -> str:
        return f"{self.url}/files/{name}"

    @property
    def stac_url(self) -> str:
        return f"{self.url}/stac"

    # -- what was served ------------------------------------------------------------------
    def record(self, entry: Served) -> None:
        with self._lock:
            self.served.append(entry)

    def file_requests(self, name: str | None = None) -> list[Served]:
        with self._lock:
            return [
                s
                for s in self.served
                if s.path.startswith("/files/") and (name is None or s.path == f"/files/{name}")
            ]

    def bytes_sent(self, name: str | None = None) -> int:
        return sum(s.body_bytes for s in self.file_requests(name))

    def reset(self) -> None:
        with self._lock:
            self.served.clear()
            self._flaky_seen.clear()

    def flaky_turn(self, name: str) -> bool:
        """True while the file should still fail (its first ``flaky_failures`` requests)."""
        with self._lock:
            seen = self._flaky_seen.get(name, 0)
            self._flaky_seen[name] = seen + 1
            return seen < self.flaky_failures

    # -- the STAC API ---------------------------------------------------------------------
    def landing(self) -> dict:
        base = self.stac_url
        return {
            "type": "Catalog",
            "stac_version": STAC_VERSION,
            "id": "loopback",
            "description": "Loopback STAC API for the tests",
            "conformsTo": CONFORMS,
            "links": [
                {"rel": "self", "href": f"{base}/", "type": "application/json"},
                {"rel": "root", "href": f"{base}/", "type": "application/json"},
                {"rel": "conformance", "href": f"{base}/conformance"},
                {"rel": "data", "href": f"{base}/collections", "type": "application/json"},
                {"rel": "search", "href": f"{base}/search", "type": "application/geo+json",
                 "method": "GET"},
                {"rel": "search", "href": f"{base}/search", "type": "application/geo+json",
                 "method": "POST"},
            ],
        }

    def search(self, params: dict, method: str) -> dict:
        collections = params.get("collections")
        if isinstance(collections, str):
            collections = collections.split(",")
        bbox = params.get("bbox")
        if isinstance(bbox, str):
            bbox = [float(v) for v in bbox.split(",")]
        start, end = _interval(params.get("datetime"))
        matched = [
            item
            for item in self.items
            if (not collections or item.get("collection") in collections)
            and (bbox is None or _meets(item.get("bbox"), bbox))
            and _within(item.get("properties", {}).get("datetime"), start, end)
        ]
        limit = min(int(params.get("limit") or self.page_size), self.page_size)
        offset = int(params.get("token") or 0)
        if self.search_fails_from is not None and offset >= self.search_fails_from:
            raise _Refused(500)
        page = matched[offset : offset + limit]
        links = [{"rel": "root", "href": f"{self.stac_url}/"}]
        if offset + limit < len(matched):
            nxt = {**params, "token": str(offset + limit)}
            if method == "POST":
                links.append({"rel": "next", "href": f"{self.stac_url}/search", "method": "POST",
                              "body": nxt, "merge": False})
            else:
                query = "&".join(
                    f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}"
                    for k, v in nxt.items()
                )
                links.append({"rel": "next", "href": f"{self.stac_url}/search?{query}",
                              "method": "GET"})
        return {
            "type": "FeatureCollection",
            "features": page,
            "links": links,
            "numberMatched": len(matched),
            "numberReturned": len(page),
        }


def _interval(text: str | None) -> tuple[datetime | None, datetime | None]:
    if not text:
        return None, None
    parts = text.split("/") if "/" in text else [text, text]
    return tuple(None if p in ("", "..") else _when(p) for p in parts)  # type: ignore[return-value]


def _when(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _within(text: str | None, start: datetime | None, end: datetime | None) -> bool:
    if text is None:
        return start is None and end is None
    when = _when(text)
    return (start is None or when >= start) and (end is None or when <= end)


def _meets(a: list | None, b: list) -> bool:
    if not a or len(a) < 4:
        return True  # no bbox to filter on: let the client decide
    return not (a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1])


class _Refused(Exception):
    def __init__(self, status: int):
        self.status = status


class _Handler(BaseHTTPRequestHandler):
    owner: LoopbackServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_HEAD(self) -> None:
        self._route(head=True)

    def do_GET(self) -> None:
        self._route(head=False)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        path = urlsplit(self.path).path.rstrip("/")
        if self.owner.stac_down:
            return self._json({"code": "Unavailable"}, 503)
        if path == "/stac/search":
            return self._search(body, "POST")
        self._json({"code": "NotFound"}, 404)

    def _search(self, params: dict, method: str) -> None:
        try:
            self._json(self.owner.search(params, method))
        except _Refused as refused:
            self._json({"code": "ServerError"}, refused.status)

    # -- routing --------------------------------------------------------------------------
    def _route(self, head: bool) -> None:
        parts = urlsplit(self.path)
        if parts.path.startswith("/files/"):
            return self._file(parts.path[len("/files/") :], head)
        if parts.path.startswith("/stac"):
            if self.owner.stac_down:
                return self._json({"code": "Unavailable"}, 503)
            path = parts.path.rstrip("/")
            params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            if path == "/stac":
                return self._json(self.owner.landing())
            if path == "/stac/conformance":
                return self._json({"conformsTo": CONFORMS})
            if path == "/stac/search":
                return self._search(params, "GET")
            if path == f"/stac/collections/{self.owner.collection}":
                return self._json({"type": "Collection", "id": self.owner.collection,
                                   "stac_version": STAC_VERSION, "description": "NAIP",
                                   "license": "proprietary", "links": [],
                                   "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                                              "temporal": {"interval": [[None, None]]}}})
        self._send(404, b"not found", head=head)

    def _json(self, data: dict, status: int = 200) -> None:
        body = json.dumps(data).encode()
        self._send(status, body, content_type="application/json")

    def _send(self, status: int, body: bytes, *, head: bool = False, content_type: str =
              "text/plain", headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        sent = 0
        if not head:
            try:
                self.wfile.write(body)
                sent = len(body)
            except (BrokenPipeError, ConnectionResetError):
                pass
        self.owner.record(
            Served(self.command, urlsplit(self.path).path, urlsplit(self.path).query,
                   self.headers.get("Range"), status, sent)
        )

    def _file(self, name: str, head: bool) -> None:
        owner = self.owner
        fault = owner.faults.get(name)
        if fault in ("404", "500"):
            return self._send(int(fault), b"fault", head=head)
        if fault == "flaky" and owner.flaky_turn(name):
            return self._send(503, b"try again", head=head)
        if fault == "stall":
            time.sleep(owner.stall_s)
        try:
            path = inside(owner.root, name)
        except UnsafePathError:
            return self._send(404, b"not found", head=head)
        if not path.is_file():
            return self._send(404, b"not found", head=head)
        size = path.stat().st_size
        if fault == "truncated":
            size //= 2
        wanted = self.headers.get("Range")
        if wanted is None or fault == "no-range":
            return self._send(200, _read(path, 0, size), head=head, content_type="image/tiff",
                              headers={"Accept-Ranges": "bytes"})
        match = _RANGE.match(wanted.strip())
        if not match or (not match[1] and not match[2]):
            return self._send(416, b"one byte range per request", head=head,
                              headers={"Content-Range": f"bytes */{size}"})
        if match[1]:
            first = int(match[1])
            last = min(int(match[2]), size - 1) if match[2] else size - 1
        else:  # a suffix: the last N bytes
            first, last = max(0, size - int(match[2])), size - 1
        if first >= size or first > last:
            return self._send(416, b"", head=head, headers={"Content-Range": f"bytes */{size}"})
        self._send(206, _read(path, first, last + 1 - first), head=head,
                   content_type="image/tiff",
                   headers={"Accept-Ranges": "bytes",
                            "Content-Range": f"bytes {first}-{last}/{size}"})


def _read(path: Path, offset: int, length: int) -> bytes:
    with path.open("rb") as f:
        f.seek(offset)
        return f.read(length)


# -- COGs and STAC items made from real rasters ---------------------------------------------


def make_cog(src: Path, dst: Path, *, compress: str = "DEFLATE", blocksize: int = 512) -> Path:
    """A cloud-optimised GeoTIFF of ``src`` (tiles, overviews; JPEG needs 3 bands)."""
    import rasterio.shutil

    dst.parent.mkdir(parents=True, exist_ok=True)
    extra = {"QUALITY": 90} if compress == "JPEG" else {}
    rasterio.shutil.copy(src, dst, driver="COG", COMPRESS=compress, BLOCKSIZE=blocksize,
                         OVERVIEWS="AUTO", **extra)
    return dst


def stac_item(path: Path, href: str, item_id: str, *, when: str = "2022-08-15T16:00:00Z",
              collection: str = "naip", proj: bool = True) -> dict:
    """A STAC item for the raster at ``path``, served at ``href``: geometry and bbox in
    EPSG:4326, and, with ``proj``, the projection fields of the asset as NAIP items carry them."""
    import rasterio
    import shapely.geometry
    from pyproj import Transformer
    from shapely.geometry import box

    with rasterio.open(path) as ds:
        to_lonlat = Transformer.from_crs(ds.crs, "EPSG:4326", always_xy=True)
        ring = shapely.transform(box(*ds.bounds).segmentize(50.0),
                                 lambda xy: _stack(to_lonlat.transform(xy[:, 0], xy[:, 1])))
        props = {"datetime": when, "gsd": ds.transform.a}
        asset = {"href": href, "type": "image/tiff; application=geotiff; "
                 "profile=cloud-optimized", "roles": ["data"],
                 "eo:bands": [{"name": n} for n in ("Red", "Green", "Blue", "NIR")[: ds.count]]}
        if proj:
            props.update({"proj:epsg": ds.crs.to_epsg(), "proj:shape": [ds.height, ds.width],
                          "proj:transform": list(ds.transform)[:6]})
    return {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": [
            "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
            "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
        ],
        "id": item_id,
        "collection": collection,
        "geometry": shapely.geometry.mapping(ring),
        "bbox": list(ring.bounds),
        "properties": props,
        "assets": {"image": asset,
                   "thumbnail": {"href": href + ".jpg", "roles": ["thumbnail"]}},
        "links": [],
    }


def _stack(xy):
    import numpy as np

    return np.column_stack(xy)
