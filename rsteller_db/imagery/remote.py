"""Rasters behind URLs: GDAL settings for reading COG windows over HTTP, URL signing, errors.

rasterio opens an ``http(s)://`` URL through GDAL's ``/vsicurl/``, which reads the header and
then only the byte ranges of the tiles a window needs, never the whole file. ``gdal_options``
holds the settings that matter for that:

- ``GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR``: no directory listing and no probing for sidecar
  files (``.aux.xml``, ``.ovr``, ``.msk``): one HEAD and one header read per image;
- ``GDAL_HTTP_MERGE_CONSECUTIVE_RANGES``: neighbouring tiles come in one request;
- ``GDAL_HTTP_MULTIPLEX``: concurrent ranges share one HTTP/2 connection where the server
  speaks it;
- ``VSI_CACHE`` (per open handle) and ``CPL_VSIL_CURL_CACHE_SIZE`` (downloaded ranges): the
  tiles a handle fetched stay in memory for the next window of the same image; decoded
  blocks stay in GDAL's block cache (``GDAL_CACHEMAX``, 5 % of RAM by default) as long as the
  handle is open, which is why ``pixels.RasterioReader`` keeps one handle per image;
- ``GDAL_HTTP_MAX_RETRY`` / ``GDAL_HTTP_RETRY_DELAY``: GDAL retries a request that got 429 or
  a 5xx status, timed out or lost its connection, with a growing delay, before the read fails
  (a delay of 0 would turn its retries off, hence ``MIN_RETRY_DELAY_S``);
- ``GDAL_HTTP_TIMEOUT`` / ``GDAL_HTTP_CONNECTTIMEOUT``: a stalled server fails the read.

Options are thread-local in rasterio: enter ``rasterio.Env(**gdal_options(...))`` in the thread
that opens and reads.

Signing: a URL that needs a token (Planetary Computer's blob storage) is stored unsigned and
signed when it is opened, by a signer from ``SIGNERS`` (tokens expire; a stored signed URL
would stop working within the hour).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from .. import defaults
from ..errors import InputError

URL_SCHEMES = ("http", "https", "s3")  # s3: GDAL's /vsis3/, with AWS credentials
CURL_CACHE_BYTES = 256 * 2**20
HANDLE_CACHE_BYTES = 32 * 2**20
MIN_RETRY_DELAY_S = 0.05


def is_url(uri: str) -> bool:
    return urlsplit(uri).scheme.lower() in URL_SCHEMES


def gdal_options(*, timeout_s: float = defaults.FETCH_TIMEOUT_S,
                 retries: int = defaults.FETCH_RETRIES, backoff_s: float = 0.5) -> dict:
    """GDAL configuration for windowed reads of (remote) COGs; harmless for local files."""
    return {
        "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
        "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
        "GDAL_HTTP_MULTIPLEX": "YES",
        "VSI_CACHE": "TRUE",
        "VSI_CACHE_SIZE": str(HANDLE_CACHE_BYTES),
        "CPL_VSIL_CURL_CACHE_SIZE": str(CURL_CACHE_BYTES),
        "GDAL_HTTP_MAX_RETRY": str(retries),
        "GDAL_HTTP_RETRY_DELAY": f"{max(backoff_s, MIN_RETRY_DELAY_S):g}",  # 0 turns retries off
        "GDAL_HTTP_TIMEOUT": f"{max(1, round(timeout_s))}",
        "GDAL_HTTP_CONNECTTIMEOUT": f"{max(1, round(min(timeout_s, 10.0)))}",
    }


def error_text(exc: BaseException) -> str:
    """The most telling line of a GDAL error: rasterio's "Read failed. See previous exception"
    is replaced by the error it points to."""
    seen = 0
    while exc is not None and seen < 8:
        text = str(exc).splitlines()[0] if str(exc) else ""
        if text and "See previous exception" not in text:
            return text
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return text or "unknown error"


@functools.cache
def _gdal_library():
    """rasterio's own libgdal (the copy whose caches its datasets use), or None."""
    import ctypes
    import ctypes.util

    import rasterio

    site = Path(rasterio.__file__).resolve().parent
    found = [
        *sorted((site.parent / "rasterio.libs").glob("libgdal*.so*")),  # manylinux wheels
        *sorted((site / ".dylibs").glob("libgdal*.dylib")),  # macOS wheels
    ]
    system = ctypes.util.find_library("gdal")  # rasterio built against a system GDAL
    for candidate in [*found, *([system] if system else [])]:
        try:
            library = ctypes.CDLL(str(candidate))
            library.VSICurlClearCache  # noqa: B018  (present in every GDAL >= 2.2)
            return library
        except (OSError, AttributeError):
            continue
    return None


def clear_http_cache() -> bool:
    """Forget what GDAL's /vsicurl/ remembers from earlier reads in this process (file sizes,
    URLs that failed, downloaded ranges), so that a new run asks the servers again instead of
    repeating an old failure or serving old bytes. rasterio does not expose GDAL's
    ``VSICurlClearCache``, so it is called through ctypes on rasterio's libgdal; False when
    that library is not found (a CLI run is a new process, whose cache starts empty)."""
    library = _gdal_library()
    if library is None:
        return False
    library.VSICurlClearCache()
    return True


# -- URL signing ---------------------------------------------------------------------------

Signer = Callable[[str], str]


def _planetary_computer() -> Signer:
    try:
        import planetary_computer
    except ImportError as exc:
        raise InputError(
            "--sign planetary-computer needs the planetary-computer extra: "
            "pip install 'rsteller-db[planetary-computer]'"
        ) from exc
    return planetary_computer.sign_url


SIGNERS: dict[str, Callable[[], Signer]] = {"planetary-computer": _planetary_computer}


def signer(name: str | None) -> Signer | None:
    """The signing function for ``name`` (None: URLs are used as they are)."""
    if not name:
        return None
    try:
        factory = SIGNERS[name]
    except KeyError:
        raise InputError(
            f"unknown URL signer {name!r}: use --sign {' | '.join(sorted(SIGNERS))}"
        ) from None
    return factory()


def scrub(text: str, signed: str, plain: str) -> str:
    """``text`` with a signed URL replaced by the unsigned one, and its token (the query string
    the signer added) cut wherever else it appears: tokens stay out of reports."""
    if not signed or signed == plain:
        return text
    text = text.replace(signed, plain)
    token = urlsplit(signed).query
    if token and token not in plain:
        text = text.replace(token, "<token>")
    return text
