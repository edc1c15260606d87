"""The sample reader: exportable patches from the warehouse, in a stable order, streamed.

``SampleReader`` takes rows from the ``export_samples`` mart (one row per ``dataset_samples``
patch: an accepted Task 1/2 caption and its accepted Task 3 revisions, with the sample's
RSTeller JSON document written by DuckDB), ordered by ``patch_id``, in
Arrow batches cut into one table per shard, so memory stays flat however many samples the
warehouse holds. ``SampleMaker`` turns a shard's rows into samples (JSON document + JPEG); it
needs no warehouse, so it also runs in worker processes.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
from PIL import Image, UnidentifiedImageError

from ..errors import UnsafePathError
from ..paths import inside
from .writers import ExportError, Sample

if TYPE_CHECKING:  # SampleMaker runs in the export's helper processes, which need no DuckDB
    from ..warehouse import Warehouse

RELATION = "export_samples"  # sql/40_marts: metadata row, RSTeller JSON document, digest
BATCH_ROWS = 2048
DIGEST = "_digest"
DOCUMENT = "_document"
QUERY = f"SELECT * FROM {RELATION} {{where}} ORDER BY patch_id"
# `export --partition KEY`: the samples of those partitions only (docs/scale.md)
PARTITION_FILTER = ("WHERE patch_id IN (SELECT patch_id FROM int_patches_gridded "
                    "WHERE partition_key IN (SELECT unnest(?::VARCHAR[])))")
HIDDEN = [DIGEST, DOCUMENT]  # columns the export uses that are not metadata
DEFAULT_JPEG_QUALITY = 95

class SkipSample(Exception):
    """The patch cannot be exported (its image is missing or unusable); the reason says why."""


@dataclass(frozen=True)
class Row:
    """One planned sample: its JSON document, its image, and where its metadata row is."""

    patch_id: int
    image_name: str
    image_status: str
    image_path: str | None
    image_reason: str | None
    document: bytes  # RSTeller's {"metadata": ..., "annotations": [...]} as UTF-8 JSON
    tasks: list[int]  # the task of each annotation, in order (for the shard's stats)
    batch: pa.RecordBatch  # the metadata row is batch[index] (the parquet sidecar's row)
    index: int


class SampleReader:
    """Reads ``export_samples`` from an open warehouse, one Arrow table per shard."""

    def __init__(self, wh: Warehouse, partitions: tuple[str, ...] = ()):
        if not wh.relation_exists(RELATION):
            raise ExportError(
                f"the warehouse {wh.path} has no {RELATION} relation: run `rsteller-db build` "
                "(after `rsteller-db caption` and `rsteller-db images fetch`)"
            )
        self.wh = wh
        self.where, self.params = (PARTITION_FILTER, [list(partitions)]) if partitions \
            else ("", [])
        self.query = QUERY.replace("{where}", self.where)

    def count(self) -> int:
        return self.wh.con.execute(f"SELECT count(*) FROM {RELATION} {self.where}",
                                   self.params).fetchone()[0]

    def schema(self) -> pa.Schema:
        """The metadata table's schema (the mart's columns, tags as key/value pairs)."""
        reader = self.wh.con.execute(f"{self.query} LIMIT 0", self.params).to_arrow_reader()
        return metadata_schema(reader.schema)

    def shard_tables(self, size: int) -> Iterator[pa.Table]:
        """Tables of ``size`` rows (the last may be shorter), in ``patch_id`` order."""
        import duckdb

        try:
            batches = self.wh.con.execute(self.query, self.params).to_arrow_reader(BATCH_ROWS)
        except duckdb.Error as exc:
            raise ExportError(f"cannot read {RELATION}: {exc}; run `rsteller-db build`") from exc
        pending: list[pa.RecordBatch] = []
        count = 0
        for batch in batches:
            while batch.num_rows:
                take = min(size - count, batch.num_rows)
                pending.append(batch.slice(0, take))
                batch = batch.slice(take)
                count += take
                if count == size:
                    yield pa.Table.from_batches(pending)
                    pending, count = [], 0
        if pending:
            yield pa.Table.from_batches(pending)


def metadata_schema(schema: pa.Schema) -> pa.Schema:
    for name in HIDDEN:
        schema = schema.remove(schema.get_field_index(name))
    return schema


def digests(table: pa.Table) -> list[str]:
    return table.column(DIGEST).to_pylist()


class SampleMaker:
    """Turns a shard table's rows into samples; images are resolved under ``root``."""

    def __init__(self, root: str, *, patch_size_px: int, jpeg_quality: int | None = None):
        self.root = root
        self.patch_size_px = patch_size_px
        self.jpeg_quality = jpeg_quality

    def rows(self, table: pa.Table) -> Iterator[Row]:
        for batch in table.to_batches():
            yield from self._batch_rows(batch)

    @staticmethod
    def _batch_rows(batch: pa.RecordBatch) -> Iterator[Row]:
        # Column-wise to Python: only what the samples need, not whole rows.
        col = batch.column
        ids, names = col("patch_id").to_pylist(), col("image_name").to_pylist()
        status, paths = col("image_status").to_pylist(), col("image_path").to_pylist()
        reasons = col("image_reason").to_pylist()
        documents = col(DOCUMENT).to_pylist()
        captions = col("captions")
        # (not fill_null: pyarrow imports pandas for it, 0.4 s of every helper's first shard)
        lengths = [n or 0 for n in captions.value_lengths().to_pylist()]
        tasks = captions.flatten().field("task").to_pylist()
        meta = batch.drop_columns(HIDDEN)
        start = 0
        for i, length in enumerate(lengths):
            yield Row(int(ids[i]), names[i], status[i], paths[i], reasons[i], documents[i],
                      tasks[start:start + length], meta, i)
            start += length

    def sample(self, row: Row, with_image: bool) -> Sample:
        """The sample of ``row``; raises :class:`SkipSample` when its image is unusable."""
        if row.image_status != "ok" or not row.image_path:
            why = row.image_reason or "no image fetched"
            raise SkipSample(f"image {row.image_status or 'missing'}: {why}")
        if with_image:
            jpeg = self._jpeg(row.image_path)
        elif os.path.isfile(self._file(row.image_path)):
            jpeg = None
        else:
            raise SkipSample(f"image file missing: {row.image_path}")
        return Sample(patch_id=row.patch_id, document=row.document, batch=row.batch,
                      index=row.index, jpeg=jpeg)

    def _file(self, relative: str) -> Path:
        """The cached JPEG of a ``patch_images.path``; a path leading out of the warehouse
        folder skips the sample."""
        try:
            return inside(self.root, relative)
        except UnsafePathError as exc:
            raise SkipSample(str(exc)) from None

    def _jpeg(self, relative: str) -> bytes:
        """The patch JPEG: the cached bytes as they are when already right, else re-encoded."""
        try:
            with open(self._file(relative), "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            raise SkipSample(f"image file missing: {relative}") from None
        except OSError as exc:
            raise SkipSample(f"image unreadable: {exc.strerror or exc}") from exc
        size = self.patch_size_px
        try:
            # Pillow reads the header only; a cached JPEG of the right size passes unchanged
            with Image.open(io.BytesIO(data)) as image:
                if image.size != (size, size):
                    w, h = image.size
                    raise SkipSample(f"image is {w}x{h} px, expected {size}x{size}")
                if self.jpeg_quality is None and image.format == "JPEG" and image.mode == "RGB":
                    return data
                out = io.BytesIO()
                image.convert("RGB").save(out, "JPEG",
                                          quality=self.jpeg_quality or DEFAULT_JPEG_QUALITY)
                return out.getvalue()
        except (UnidentifiedImageError, OSError) as exc:
            raise SkipSample(f"image unreadable: {exc}") from exc
