"""Checking an ``.osm.pbf`` file before it is ingested, and reading its header.

A PBF is a sequence of blobs: a 4-byte big-endian length, a ``BlobHeader`` message of that
length (type ``OSMHeader`` or ``OSMData`` plus the size of the blob that follows), then the
blob. Walking the blob headers costs one seek per blob, so a truncated or foreign file is
refused with a clear message before DuckDB reads a byte of it. The first blob holds the
``HeaderBlock`` (bounding box, required features, writing program and the replication
timestamp); it is decoded here with a minimal protobuf reader, no generated code.
"""

from __future__ import annotations

import lzma
import os
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ..errors import InputError

MAX_BLOB_HEADER = 64 * 1024  # the format's own limits
MAX_BLOB = 32 * 1024 * 1024
SUPPORTED_FEATURES = {"OsmSchema-V0.6", "DenseNodes", "HistoricalInformation", "Sort.Type_then_ID"}


@dataclass
class PbfHeader:
    """What the file says about itself (``HeaderBlock``) and what walking it found."""

    bbox: tuple[float, float, float, float] | None = None  # west, south, east, north
    required_features: list[str] = field(default_factory=list)
    optional_features: list[str] = field(default_factory=list)
    writing_program: str | None = None
    source: str | None = None
    replication_timestamp: datetime | None = None
    replication_sequence: int | None = None
    replication_base_url: str | None = None
    blocks: int = 0  # OSMData blobs

    def to_json(self) -> dict:
        out = asdict(self)
        if self.replication_timestamp is not None:
            out["replication_timestamp"] = self.replication_timestamp.isoformat()
        return out


# -- a minimal protobuf reader ---------------------------------------------------------

def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("varint runs past the end of the message")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 64 bits")


def _fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) pairs; varints as int, length-delimited fields as bytes."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            size, pos = _varint(buf, pos)
            if pos + size > len(buf):
                raise ValueError("a field runs past the end of the message")
            value, pos = buf[pos:pos + size], pos + size
        elif wire == 1:
            value, pos = int.from_bytes(buf[pos:pos + 8], "little"), pos + 8
        elif wire == 5:
            value, pos = int.from_bytes(buf[pos:pos + 4], "little"), pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, value


def _zigzag(value: int) -> int:
    return (value >> 1) ^ -(value & 1)


def _blob_data(blob: bytes) -> bytes:
    parts = dict(_fields(blob))
    if 1 in parts:
        return parts[1]
    if 3 in parts:
        return zlib.decompress(parts[3])
    if 4 in parts:
        return lzma.decompress(parts[4])
    raise ValueError("the header blob uses a compression this reader does not know (lz4/zstd)")


def _header_block(data: bytes) -> PbfHeader:
    head = PbfHeader()
    for number, value in _fields(data):
        if number == 1:
            box = {n: _zigzag(v) * 1e-9 for n, v in _fields(value)}
            if len(box) == 4:  # left, right, top, bottom in nanodegrees
                head.bbox = (box[1], box[4], box[2], box[3])
        elif number == 4:
            head.required_features.append(value.decode())
        elif number == 5:
            head.optional_features.append(value.decode())
        elif number == 16:
            head.writing_program = value.decode()
        elif number == 17:
            head.source = value.decode()
        elif number == 32 and value:
            head.replication_timestamp = datetime.fromtimestamp(value, UTC).replace(tzinfo=None)
        elif number == 33:
            head.replication_sequence = value
        elif number == 34:
            head.replication_base_url = value.decode()
    return head


# -- the file walk ---------------------------------------------------------------------

def read_pbf_header(path: str | os.PathLike,
                    on_bytes: Callable[[int], None] | None = None) -> PbfHeader:
    """Check that ``path`` is a complete PBF and return its header.

    Raises :class:`InputError` for a missing file, a file that is not a PBF, or one cut
    short. ``on_bytes`` is called with the bytes walked past, for a progress bar.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"no such file: {path}: check the path (download an extract, "
                         "or run `rsteller-db sample` for the bundled one)")
    if not path.is_file():
        raise InputError(f"{path} is not a file: pass an .osm.pbf file")
    size = path.stat().st_size
    head: PbfHeader | None = None
    with path.open("rb") as fh:
        pos = 0
        while pos < size:
            what = "the first block" if pos == 0 else f"the block at byte {pos}"
            try:
                prefix = fh.read(4)
                if len(prefix) < 4:
                    raise _Cut
                (length,) = struct.unpack(">I", prefix)
                if length == 0 or length > MAX_BLOB_HEADER:
                    raise _NotPbf
                raw = fh.read(length)
                if len(raw) < length:
                    raise _Cut
                blob_header = dict(_fields(raw))
                kind = blob_header.get(1, b"").decode("utf-8", "replace")
                datasize = blob_header.get(3, 0)
                if kind not in ("OSMHeader", "OSMData") or not 0 < datasize <= MAX_BLOB:
                    raise _NotPbf
                if pos == 0 and kind != "OSMHeader":
                    raise _NotPbf
                if kind == "OSMHeader":
                    blob = fh.read(datasize)
                    if len(blob) < datasize:
                        raise _Cut
                    head = _header_block(_blob_data(blob))
                else:
                    fh.seek(datasize, os.SEEK_CUR)
                    if head is not None:
                        head.blocks += 1
            except _Cut:
                raise InputError(
                    f"{path} is truncated: {what} runs past the end of the file ({size} bytes); "
                    "download the extract again"
                ) from None
            except (_NotPbf, ValueError, UnicodeDecodeError, zlib.error, lzma.LZMAError):
                raise InputError(
                    f"{path} is not an OSM PBF file ({what} is not a PBF block): "
                    "pass an .osm.pbf extract (XML .osm files are not read)"
                ) from None
            step = 4 + length + datasize
            pos += step
            if pos > size:
                raise InputError(
                    f"{path} is truncated: {what} runs past the end of the file ({size} bytes); "
                    "download the extract again"
                )
            if on_bytes:
                on_bytes(step)
    if head is None:
        raise InputError(f"{path} is empty: pass an .osm.pbf extract")
    unknown = sorted(set(head.required_features) - SUPPORTED_FEATURES)
    if unknown:
        raise InputError(f"{path} needs PBF features this reader lacks: {', '.join(unknown)}")
    return head


class _Cut(Exception):
    pass


class _NotPbf(Exception):
    pass
