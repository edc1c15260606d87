"""Export: the warehouse's samples as RSTeller-format webdataset shards or a parquet table.

Modules: ``reader`` (samples from the ``dataset_samples`` mart), ``writers`` (one shard-writer
interface and its registry: ``wds``, ``parquet``, ``null``), ``outdir`` (the output folder),
``runner`` (plan, resume, the commit thread), ``shards`` (writing and committing one
shard), ``helpers`` (the processes of ``--workers``), ``manifest`` and ``verify``.
"""

from __future__ import annotations

from .helpers import ExportHelpers
from .runner import ExportOptions, ExportResult, export_dataset
from .verify import VerifyReport, document_problems, verify_export
from .writers import WRITERS, ExportError, FileInfo, Sample, ShardWriter, register

__all__ = [
    "WRITERS",
    "ExportError",
    "ExportHelpers",
    "ExportOptions",
    "ExportResult",
    "FileInfo",
    "Sample",
    "ShardWriter",
    "VerifyReport",
    "document_problems",
    "export_dataset",
    "register",
    "verify_export",
]
