"""Shard writers: one interface (open a shard, write samples, close), found through a registry.

A writer turns the samples of one shard into files beside each other, all named after the
shard's stem (``train-000000``). Every file is written under a temporary name; ``close``
hands the complete files back, and the caller commits them (hash, sync, rename) — possibly on
another thread while the next shard is written — so a crash or a full disk never leaves a
truncated file under a final name.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
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
LOT_BYTES = 1 << 20  # writes reach the file in lots of about 1 MiB
HASH_BLOCK_BYTES = 8 << 20  # commit reads a file back in blocks of 8 MiB to hash it
IOV_MAX = 1024  # pieces per vectored write (POSIX guarantees at least 16; Linux allows 1024)


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
    document: bytes  # RSTeller's {"metadata": {...}, "annotations": [...]} as UTF-8 JSON
    batch: pa.RecordBatch  # the metadata row (parquet sidecar) is batch[index]
    index: int
    jpeg: bytes | None = None

    @property
    def key(self) -> str:
        return str(self.patch_id)


class AtomicFile:
    """A binary file written as ``<name>.tmp`` and renamed to ``<name>`` by ``commit``.

    Writes gather (not copied) into lots of about 1 MiB, and each lot reaches the file in one
    vectored system call: a tar member's 512-byte header and padding cost no call of their
    own, and no byte is copied twice. ``seal`` writes what is left; ``commit`` (which seals
    first) hashes the file as it lies in the page cache (unless ``release`` did), syncs it to
    disk, renames it and describes it. Hashing and syncing release the GIL, so ``commit`` can
    run on another thread while the caller writes the next file.
    """

    def __init__(self, final: Path):
        self.final = final
        self.tmp = final.with_name(final.name + TMP_SUFFIX)
        self.size = 0
        self._fd: int | None = os.open(self.tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self.sha256: str | None = None  # set by release(); commit() hashes a file not released

    def write(self, data) -> int:
        if type(data) is not bytes:  # the caller may reuse a mutable buffer
            data = bytes(data)
        self._pending.append(data)
        size = len(data)
        self.size += size
        self._pending_bytes += size
        if self._pending_bytes >= LOT_BYTES:
            self._write_lot()
        return size

    def writelines(self, parts) -> None:
        for data in parts:
            self.write(data)

    def _write_lot(self) -> None:
        parts, self._pending, self._pending_bytes = self._pending, [], 0
        while parts:
            chunk = parts[:IOV_MAX]
            done = os.writev(self._fd, chunk)
            # a short write (a signal, a file size limit) goes on from where it stopped
            for i, data in enumerate(chunk):
                if done < len(data):
                    parts = [memoryview(data)[done:], *chunk[i + 1:], *parts[len(chunk):]]
                    break
                done -= len(data)
            else:
                parts = parts[len(chunk):]

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        """Nothing to do: lots are written as they fill, the rest by ``seal``."""

    def seal(self) -> None:
        """Write what is still gathered: the file is complete (not yet synced or renamed)."""
        if self._pending:
            self._write_lot()

    def release(self) -> None:
        """Seal the file, hash it and close it, leaving the complete temporary file for another
        process (the exporter's own, when a helper process wrote the shard) to sync and
        rename: the process that wrote the file pays for its hash. An AtomicFile pickles only
        when released, and ``commit`` opens the file again."""
        self.seal()
        self.sha256 = self._sha256()
        self._close()

    def __getstate__(self) -> dict:
        if self._fd is not None or self._pending:
            raise TypeError(f"{self.tmp} is still open: release() it before it travels")
        return dict(self.__dict__)

    def commit(self) -> FileInfo:
        self.seal()
        if self._fd is None:  # released (and hashed) by the process that wrote it
            self._fd = os.open(self.tmp, os.O_RDWR)
        sha = self.sha256 or self._sha256()
        os.fsync(self._fd)
        self._close()
        os.replace(self.tmp, self.final)
        return FileInfo(self.final.name, self.size, sha)

    def _sha256(self) -> str:
        """The file's sha256, read back in large blocks: few GIL hand-overs on a busy thread."""
        sha = hashlib.sha256()
        block = bytearray(HASH_BLOCK_BYTES)
        view = memoryview(block)
        offset = 0
        while n := os.preadv(self._fd, [block], offset):
            sha.update(view[:n])
            offset += n
        return sha.hexdigest()

    def _close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def abort(self) -> None:
        self._pending, self._pending_bytes = [], 0
        try:
            self._close()
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
    def close(self) -> list[AtomicFile]:
        """Finish the shard's files and hand them over, complete but not yet committed: the
        caller commits each (sync, rename, describe) or aborts it."""

    @abstractmethod
    def abort(self) -> None:
        """Drop the temporary files of a shard that ``close`` has not handed over."""


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
    _path: Path | None = None  # set by open

    def open(self, stem: Path) -> None:
        self._path = stem.with_name(stem.name + ".parquet")
        self._runs: list[list] = []  # [batch, first row, rows]: runs of consecutive rows

    def write(self, sample: Sample) -> None:
        run = self._runs[-1] if self._runs else None
        if run is not None and run[0] is sample.batch and run[1] + run[2] == sample.index:
            run[2] += 1
        else:
            self._runs.append([sample.batch, sample.index, 1])

    def close(self) -> list[AtomicFile]:
        # slices, not take(): no copy, and no pa.array (whose first call imports pandas)
        parts = [batch.slice(first, rows) for batch, first, rows in self._runs]
        table = pa.Table.from_batches(parts, schema=self.schema)
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        out = AtomicFile(self._path)
        try:
            out.write(buffer.getbuffer())
            out.seal()
        except BaseException:
            out.abort()
            raise
        self._runs = []
        return [out]

    def abort(self) -> None:
        self._runs = []
        if self._path is not None:  # None: the shard failed before this file was started
            self._path.with_name(self._path.name + TMP_SUFFIX).unlink(missing_ok=True)


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
        # tarfile itself, in plain "w" mode (our file object reports its position; the stream
        # mode "w|" that webdataset's TarWriter picks re-buffers every member in 10 kB slices).
        # Plain ustar headers are the bytes tarfile writes for our short ASCII names anyway,
        # built without the pax checks. The members are what webdataset writes: <key>.<ext>
        # in sorted order of the extensions, with a fixed owner, mode and mtime.
        self._tar = tarfile.open(fileobj=self._out, mode="w", format=tarfile.USTAR_FORMAT)
        self._tar.copybufsize = TAR_COPY_BUFFER
        self._sidecar.open(stem)

    def write(self, sample: Sample) -> None:
        for ext, data in (("jpg", sample.jpeg), ("json", sample.document)):
            member = tarfile.TarInfo(f"{sample.key}.{ext}")
            member.size, member.mtime, member.mode = len(data), TAR_MTIME, TAR_MODE
            member.uname = member.gname = TAR_OWNER
            self._tar.addfile(member, io.BytesIO(data))
        self._sidecar.write(sample)

    def close(self) -> list[AtomicFile]:
        self._tar.close()
        self._out.seal()
        tar, self._out = self._out, None
        try:
            return [tar, *self._sidecar.close()]
        except BaseException:
            tar.abort()
            raise

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

    def close(self) -> list[AtomicFile]:
        return []

    def abort(self) -> None:
        pass
