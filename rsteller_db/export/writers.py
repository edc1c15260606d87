"""Shard writers: one interface (open a shard, write samples, close), found through a registry.

A writer turns the samples of one shard into files beside each other, all named after the
shard's stem (``train-000000``). Every file is written under a temporary name, hashed while
it is written, and renamed only when the shard is complete, so a crash or a full disk never
leaves a truncated file under a final name.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import queue
import tarfile
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import RstellerError

TMP_SUFFIX = ".tmp"
TAR_MTIME = 0  # fixed member mtime, owner and mode make shards byte-identical across runs
TAR_OWNER = "rsteller"
TAR_MODE = 0o444
TAR_COPY_BUFFER = 1 << 20  # copy each member in one piece, not tarfile's 16 kB slices
HANDOFF_BYTES = 1 << 20  # writes reach the background writer in lots of about 1 MiB
QUEUED_WRITES = 8  # lots waiting for the background writer (bounds memory)
SYNC_BYTES = 8 << 20  # the background writer syncs every 8 MiB, so commit's fsync is short


class ExportError(RstellerError):
    """An export cannot start, a shard cannot be written, or an export fails verification."""


@dataclass(frozen=True)
class FileInfo:
    """A finished file of a shard: its name in the output folder, size and sha256."""

    name: str
    bytes: int
    sha256: str

    def to_json(self) -> dict:
        return {"name": self.name, "bytes": self.bytes, "sha256": self.sha256}


@dataclass
class Sample:
    """One exportable patch: RSTeller's JSON document, the image, and the metadata row."""

    patch_id: int
    document: dict  # {"metadata": {...}, "annotations": [...]}
    batch: pa.RecordBatch  # the metadata row (parquet sidecar) is batch[index]
    index: int
    jpeg: bytes | None = None

    @property
    def key(self) -> str:
        return str(self.patch_id)

    def document_bytes(self) -> bytes:
        return json.dumps(self.document, ensure_ascii=False).encode("utf-8")


class AtomicFile:
    """A binary file written as ``<name>.tmp`` and renamed on ``commit``.

    Writing, hashing and syncing to disk happen on a background thread (all release the GIL),
    so they overlap with the caller's work; a write error surfaces on the next ``write`` or on
    ``commit``.
    """

    def __init__(self, final: Path):
        self.final = final
        self.tmp = final.with_name(final.name + TMP_SUFFIX)
        self.size = 0
        self._sha = hashlib.sha256()
        self._file = open(self.tmp, "wb")  # closed by commit or abort
        self._pending: list[bytes] = []  # writes gather here (not copied) before the hand-off
        self._pending_bytes = 0
        self._queue: queue.Queue[list[bytes] | None] = queue.Queue(maxsize=QUEUED_WRITES)
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        unsynced = 0
        while (parts := self._queue.get()) is not None:
            if self._error is None:
                try:
                    for data in parts:
                        self._file.write(data)
                        self._sha.update(data)
                        unsynced += len(data)
                    if unsynced >= SYNC_BYTES:  # the disk catches up while the caller works
                        self._file.flush()
                        os.fdatasync(self._file.fileno())
                        unsynced = 0
                except BaseException as exc:  # handed to the writing thread
                    self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def write(self, data) -> int:
        self.writelines((data,))
        return memoryview(data).nbytes

    def writelines(self, parts) -> None:
        """Write several pieces with one hand-off check (a tar member's header, data, padding)."""
        if self._error is not None:
            raise self._error
        pending = self._pending
        size = 0
        for data in parts:
            if type(data) is not bytes:  # the caller may reuse a mutable buffer
                data = bytes(data)
            pending.append(data)
            size += len(data)
        self.size += size
        self._pending_bytes += size
        if self._pending_bytes >= HANDOFF_BYTES:
            self._queue.put(pending)
            self._pending, self._pending_bytes = [], 0

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self._raise()

    def _stop(self) -> None:
        if self._thread is not None:
            self._queue.put(self._pending)
            self._pending, self._pending_bytes = [], 0
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def commit(self) -> FileInfo:
        self._stop()
        self._raise()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.tmp, self.final)
        return FileInfo(self.final.name, self.size, self._sha.hexdigest())

    def abort(self) -> None:
        self._stop()
        self._error = None
        try:
            self._file.close()
        except OSError:
            pass
        self.tmp.unlink(missing_ok=True)


class ShardWriter(ABC):
    """The writer interface. ``needs_image``: whether samples must carry their JPEG bytes."""

    name: ClassVar[str]
    needs_image: ClassVar[bool] = True

    def __init__(self, schema: pa.Schema):
        self.schema = schema

    @abstractmethod
    def open(self, stem: Path) -> None:
        """Start the shard whose files are named ``<stem>.<ext>``."""

    @abstractmethod
    def write(self, sample: Sample) -> None:
        """Add one sample."""

    @abstractmethod
    def close(self) -> list[FileInfo]:
        """Finish the shard: flush, rename every file to its final name, describe them."""

    @abstractmethod
    def abort(self) -> None:
        """Drop the unfinished shard's temporary files."""


WRITERS: dict[str, type[ShardWriter]] = {}


def register(cls: type[ShardWriter]) -> type[ShardWriter]:
    WRITERS[cls.name] = cls
    return cls


def writer_for(fmt: str, schema: pa.Schema) -> ShardWriter:
    try:
        cls = WRITERS[fmt]
    except KeyError:
        known = ", ".join(sorted(WRITERS))
        raise ExportError(f"unknown export format {fmt!r}: pass --format {known}") from None
    return cls(schema)


@register
class ParquetWriter(ShardWriter):
    """``<stem>.parquet``: the metadata rows of the shard's samples (no image bytes)."""

    name = "parquet"
    needs_image = False

    def open(self, stem: Path) -> None:
        self._path = stem.with_name(stem.name + ".parquet")
        self._rows: list[tuple[pa.RecordBatch, list[int]]] = []

    def write(self, sample: Sample) -> None:
        if self._rows and self._rows[-1][0] is sample.batch:
            self._rows[-1][1].append(sample.index)
        else:
            self._rows.append((sample.batch, [sample.index]))

    def close(self) -> list[FileInfo]:
        parts = [batch.take(pa.array(rows, pa.int64())) for batch, rows in self._rows]
        table = pa.Table.from_batches(parts, schema=self.schema)
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        out = AtomicFile(self._path)
        try:
            out.write(buffer.getbuffer())
            info = out.commit()
        except BaseException:
            out.abort()
            raise
        self._rows = []
        return [info]

    def abort(self) -> None:
        self._rows = []
        self._path.with_name(self._path.name + TMP_SUFFIX).unlink(missing_ok=True)


def _tar_writer():
    """webdataset's ``TarWriter``, writing the archive in plain ``"w"`` mode.

    For a file object ``TarWriter`` picks tarfile's stream mode (``"w|"``), which re-buffers
    every member in 10 kB slices and costs as much CPU as the rest of the export. Plain mode
    writes the same bytes directly (our file object reports its position).
    """
    from webdataset import TarWriter

    class PlainTarWriter(TarWriter):
        @staticmethod
        def tarmode(fileobj, compress=None) -> str:
            return "w"

    return PlainTarWriter


@register
class WdsWriter(ShardWriter):
    """``<stem>.tar`` in RSTeller's layout (``{key}.jpg``, ``{key}.json``) + a parquet sidecar."""

    name = "wds"

    def __init__(self, schema: pa.Schema):
        super().__init__(schema)
        self._sidecar = ParquetWriter(schema)
        self._out: AtomicFile | None = None

    def open(self, stem: Path) -> None:
        self._out = AtomicFile(stem.with_name(stem.name + ".tar"))
        self._tar = _tar_writer()(self._out, user=TAR_OWNER, group=TAR_OWNER, mode=TAR_MODE,
                                  encoder=False, mtime=TAR_MTIME)
        # TarWriter takes a format but does not hand it to tarfile. Plain ustar headers are the
        # bytes tarfile writes for our short ASCII names anyway, built without the pax checks.
        self._tar.tarstream.format = tarfile.USTAR_FORMAT
        self._tar.tarstream.copybufsize = TAR_COPY_BUFFER
        self._sidecar.open(stem)

    def write(self, sample: Sample) -> None:
        self._tar.write(
            {"__key__": sample.key, "jpg": sample.jpeg, "json": sample.document_bytes()})
        self._sidecar.write(sample)

    def close(self) -> list[FileInfo]:
        self._tar.close()
        tar = self._out.commit()
        self._out = None
        return [tar, *self._sidecar.close()]

    def abort(self) -> None:
        if self._out is not None:
            self._out.abort()
            self._out = None
        self._sidecar.abort()


@register
class NullWriter(ShardWriter):
    """Writes nothing; measures the reading side of an export (benchmarks)."""

    name = "null"

    def open(self, stem: Path) -> None:
        pass

    def write(self, sample: Sample) -> None:
        pass

    def close(self) -> list[FileInfo]:
        return []

    def abort(self) -> None:
        pass
