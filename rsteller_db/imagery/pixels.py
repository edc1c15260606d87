"""Patch pixels: one reader per image source, found in a registry, and the JPEG encoder.

A reader turns a ``PatchWindow`` into a (size, size, 3) uint8 RGB array at the output GSD.
Local files, footprint-index and STAC rasters (paths or URLs: see ``remote``) are read with
rasterio, one windowed read per patch, resampled by pixel averaging when the source GSD is
finer than the output (a 0.3 m image: 896 x 896 source pixels -> 448 x 448). Earth Engine
patches are requested for exactly the patch's grid in the image's CRS.
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import defaults
from ..errors import InputError
from ..paths import inside
from . import remote


@dataclass(frozen=True)
class PatchWindow:
    """Everything needed to read one patch."""

    patch_id: int
    image_name: str
    source: str
    uri: str
    epsg: int
    gsd_m: float  # source metres per pixel
    x0: float  # top-left corner of the image, in its CRS
    y0: float
    px_x: int
    px_y: int
    px_size: int  # source pixels per side
    out_px: int  # output pixels per side
    sign: str | None = None  # URL signer (remote.SIGNERS) of images that need one

    @property
    def relative_path(self) -> str:
        return f"images/{self.image_name}/{self.patch_id}.jpg"

    def file_in(self, data_dir: Path) -> Path:
        """Where the JPEG goes: under ``data_dir/images``, never elsewhere (``paths.inside``)."""
        return inside(Path(data_dir) / "images", f"{self.image_name}/{self.patch_id}.jpg")


class PixelReader:
    """Base of the readers; ``read`` must be safe to call from several threads."""

    def read(self, window: PatchWindow) -> np.ndarray:
        raise NotImplementedError

    def session(self):
        """A context entered by each worker thread around its reads (GDAL settings)."""
        return contextlib.nullcontext()

    def close(self) -> None:
        pass


READERS: dict[str, Callable[..., PixelReader]] = {}


def register_reader(*sources: str):
    def wrap(factory):
        for source in sources:
            READERS[source] = factory
        return factory

    return wrap


class _OpenFile:
    __slots__ = ("dataset", "href", "lock", "evicted")

    def __init__(self):
        self.dataset = None
        self.href = ""  # what was opened (the signed URL, when signed)
        self.lock = threading.Lock()
        self.evicted = False


class ImageUnavailable(Exception):
    """The image cannot be opened (after retries); its other windows fail at once in this run."""


@register_reader("local", "index", "stac")
class RasterioReader(PixelReader):
    """Windowed reads through one shared handle per image, used under that image's lock.

    GDAL handles are not thread-safe, and a handle keeps its own caches: sharing one per image
    lets neighbouring windows reuse the tiles already fetched and decoded, where a handle per
    thread would fetch and decode them again. Threads reading different images run in
    parallel (``fetch_images`` interleaves images so that they do). At most ``max_open``
    images are kept open; the least recently used idle one is closed first.

    URLs are read through GDAL's ``/vsicurl/`` with ``remote.gdal_options`` (only the bytes of
    the window's tiles travel), signed first when the image was ingested with a signer. GDAL
    retries each HTTP request (429, 5xx, timeouts, reset connections) ``retries`` times with
    a growing delay. An image that still cannot be opened is remembered: its other windows
    fail at once with the same reason (``ImageUnavailable``), and the next run tries again.
    """

    def __init__(
        self,
        max_open: int = 32,
        timeout_s: float = defaults.FETCH_TIMEOUT_S,
        retries: int = defaults.FETCH_RETRIES,
        backoff_s: float = 0.5,
        **_options,
    ):
        self.max_open = max_open
        self.retries, self.backoff_s = retries, backoff_s
        self.gdal_options = remote.gdal_options(
            timeout_s=timeout_s, retries=retries, backoff_s=backoff_s
        )
        self._files: OrderedDict[str, _OpenFile] = OrderedDict()
        self._unavailable: dict[str, str] = {}
        self._guard = threading.Lock()

    def session(self):
        import rasterio

        return rasterio.Env(**self.gdal_options)

    def _entry(self, uri: str) -> _OpenFile:
        with self._guard:
            entry = self._files.get(uri)
            if entry is None:
                entry = self._files[uri] = _OpenFile()
            self._files.move_to_end(uri)
            for other in list(self._files)[: max(0, len(self._files) - self.max_open)]:
                victim = self._files[other]
                if victim.lock.acquire(blocking=False):
                    self._close(victim)
                    del self._files[other]
                    victim.lock.release()
        return entry

    @staticmethod
    def _close(entry: _OpenFile) -> None:
        entry.evicted = True
        if entry.dataset is not None:
            entry.dataset.close()
            entry.dataset = None

    def _open(self, window: PatchWindow):
        """(dataset, what was opened) for the image, signed when it must be, or raise
        ``ImageUnavailable``. GDAL has already retried the HTTP requests of the open; it also
        remembers a URL that failed, so trying again in this run would not ask the server."""
        import rasterio

        href = window.uri
        try:
            sign = remote.signer(window.sign)
            href = sign(window.uri) if sign else window.uri
            return rasterio.open(href), href
        except Exception as exc:
            text = remote.scrub(remote.error_text(exc), href, window.uri)
            reason = f"cannot open {window.uri}: {text}"
            with self._guard:
                self._unavailable[window.uri] = reason
            raise ImageUnavailable(reason) from None

    def read(self, window: PatchWindow) -> np.ndarray:
        from rasterio.enums import Resampling
        from rasterio.windows import Window

        while True:
            failed = self._unavailable.get(window.uri)
            if failed:
                raise ImageUnavailable(failed)
            entry = self._entry(window.uri)
            with entry.lock:
                if entry.evicted:  # closed between lookup and lock: look it up again
                    continue
                if entry.dataset is None:
                    entry.dataset, entry.href = self._open(window)
                ds = entry.dataset
                if (
                    window.px_x + window.px_size > ds.width
                    or window.px_y + window.px_size > ds.height
                ):
                    raise ValueError(
                        f"window ({window.px_x}, {window.px_y}) + {window.px_size} px lies "
                        f"outside the {ds.width} x {ds.height} raster; re-run `ingest naip`"
                    )
                same = window.px_size == window.out_px
                try:
                    data = ds.read(
                        [1, 2, 3],
                        window=Window(window.px_x, window.px_y, window.px_size, window.px_size),
                        out_shape=(3, window.out_px, window.out_px),
                        resampling=Resampling.nearest if same else Resampling.average,
                    )
                except Exception as exc:
                    ds.close()  # a retry opens the image afresh
                    entry.dataset = None
                    text = remote.scrub(remote.error_text(exc), entry.href, window.uri)
                    raise OSError(f"cannot read the window: {text}") from None
            return np.ascontiguousarray(np.moveaxis(data, 0, -1))

    def close(self) -> None:
        with self._guard:
            for entry in self._files.values():
                with entry.lock:
                    self._close(entry)
            self._files.clear()


@register_reader("gee")
class EarthEngineReader(PixelReader):
    """``ee.data.computePixels`` for the patch's grid in the image's CRS."""

    def __init__(
        self, project: str | None = None, key_file: str | None = None, ee_module=None, **_options
    ):
        from .gee import EarthEngine

        self.client = EarthEngine(project, key_file, ee_module)
        self.client.initialize()  # missing credentials stop the run here, not once per patch

    def read(self, window: PatchWindow) -> np.ndarray:
        scale = window.px_size * window.gsd_m / window.out_px
        return self.client.compute_pixels(
            window.uri,
            window.epsg,
            window.x0 + window.px_x * window.gsd_m,
            window.y0 - window.px_y * window.gsd_m,
            scale,
            window.out_px,
        )


def make_reader(source: str, **options) -> PixelReader:
    try:
        factory = READERS[source]
    except KeyError:
        raise InputError(
            f"no pixel reader for image source {source!r} (known: {', '.join(sorted(READERS))}): "
            "re-ingest the image with `rsteller-db ingest naip`"
        ) from None
    return factory(**options)


def encode_jpeg(rgb: np.ndarray, quality: int = defaults.JPEG_QUALITY) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def write_atomic(path: Path, data: bytes) -> None:
    """Write via a temporary name and rename, so a killed run leaves no half-written JPEG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{threading.get_ident()}.part")
    tmp.write_bytes(data)
    os.replace(tmp, path)
