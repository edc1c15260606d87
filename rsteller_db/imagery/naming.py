"""NAIP image names and the stable keys derived from them.

USDA names a NAIP quarter quad ``m_4107501_ne_18_060_20221108``: block (41075 = 41 N, 75 W),
quad inside the block (01), quarter (ne), UTM zone (18, NAD83), resolution in centimetres
(060 = 0.6 m) and the acquisition date. Some files carry a trailing processing date
(``..._20221108_20230105``); it is ignored.

``patch_id`` is computed here and, identically, in
``sql/30_intermediate/10_int_patches_gridded.sql``: the first 13 hex digits (52 bits) of the
MD5 of ``'{image_name}:{px_x}:{px_y}:{px_size}'``, read
as an unsigned integer. 52 bits keep the id exact in JSON readers that hold numbers as doubles
(JavaScript), since the id travels in every shard's JSON. MD5 is fixed by RFC 1321, so the id
does not depend on the DuckDB or Python version, on the order images were ingested, or on the
grid stride: the same window of the same image always has the same id.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date

_NAIP = re.compile(
    r"^m_(?P<block>\d{5})(?P<quad>\d{2})_(?P<quarter>ne|nw|se|sw)_(?P<zone>\d{1,2})_"
    r"(?P<res>\d{3})_(?P<date>\d{8})(?:_\d{8})?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class NaipName:
    """The parts of a USDA quarter-quad name."""

    block: str
    quad: str
    quarter: str
    utm_zone: int
    resolution_m: float
    acquired_on: date

    @property
    def epsg(self) -> int:
        """NAD83 / UTM zone EPSG code (269xx), as NAIP rasters are delivered."""
        return 26900 + self.utm_zone


def parse_naip_name(name: str) -> NaipName | None:
    """The parts of a NAIP name, or None when ``name`` does not follow the USDA scheme."""
    match = _NAIP.match(name)
    if not match:
        return None
    try:
        acquired = date(int(match["date"][:4]), int(match["date"][4:6]), int(match["date"][6:]))
    except ValueError:
        return None
    return NaipName(
        block=match["block"],
        quad=match["quad"],
        quarter=match["quarter"].lower(),
        utm_zone=int(match["zone"]),
        resolution_m=int(match["res"]) / 100,
        acquired_on=acquired,
    )


MAX_NAME_CHARS = 128
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def name_problem(name: object) -> str | None:
    """Why ``name`` cannot name an image, or None when it can.

    An image name becomes a folder (``images/<image_name>/``) and travels in every shard's
    JSON, and it comes from untrusted input (file names, index columns, Earth Engine ids, STAC
    item ids). It must be a NAIP quarter-quad name or a plain token: ASCII letters, digits,
    ``.``, ``_`` and ``-``, starting with a letter or digit, at most ``MAX_NAME_CHARS`` long,
    with no ``..``. Names are never cleaned into something else (two hostile names could clean
    to the same one); a bad name is refused.
    """
    if not isinstance(name, str) or not name:
        return "empty image name"
    shown = repr(name if len(name) <= 60 else name[:60] + "...")
    if len(name) > MAX_NAME_CHARS:
        return f"image name {shown} is {len(name)} characters long (at most {MAX_NAME_CHARS})"
    if parse_naip_name(name) is not None:
        return None
    if not _SAFE_NAME.fullmatch(name) or ".." in name:
        return (
            f"image name {shown} holds characters other than ASCII letters, digits, '.', '_' "
            "and '-' (or starts with one of the last three, or holds '..'): it cannot name "
            "a folder safely"
        )
    return None


def _md5_bits(text: str, hex_digits: int) -> int:
    return int(hashlib.md5(text.encode()).hexdigest()[:hex_digits], 16)


def _md5_60(text: str) -> int:
    return _md5_bits(text, 15)


def patch_id(image_name: str, px_x: int, px_y: int, px_size: int) -> int:
    """The stable BIGINT key of a patch window (see the module docstring)."""
    return _md5_bits(f"{image_name}:{px_x}:{px_y}:{px_size}", 13)


def drop_draw(seed: int | str, patch: int) -> float:
    """The uniform draw in [0, 1) that decides whether a patch is dropped (same as the SQL)."""
    return _md5_60(f"{seed}:{patch}") / 2**60


def patch_key(image_name: str, col: int, row: int) -> str:
    """RSTeller's readable patch name ``{image_name}/{col}_{row}``."""
    return f"{image_name}/{col}_{row}"
