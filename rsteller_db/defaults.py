"""Defaults that a command and its library function share, each declared once, here.

The library's signatures and option dataclasses take their defaults from these names, the
click options read the same names, and docs/cli.md (generated from ``--help``) shows them. A
plain module: the CLI reads it at start-up without importing the export, imagery or
inspection code. (The caption options are declared on ``caption.CaptionOptions``, which the
CLI imports anyway.) Settings that SQL stages read are in settings.py, not here.
"""

from __future__ import annotations

# rsteller-db export (export.ExportOptions)
EXPORT_FORMAT = "wds"
EXPORT_SPLIT = "train"
SHARD_SIZE = 5000
EXPORT_WORKERS = 1
EXPORT_EXECUTOR = "local"

# rsteller-db images fetch (imagery.fetch_images)
FETCH_RETRIES = 2
FETCH_TIMEOUT_S = 30.0
JPEG_QUALITY = 90

# rsteller-db preview (inspect.write_preview)
PREVIEW_FILE = "preview.html"
PREVIEW_SAMPLES = 50

# rsteller-db stats (inspect.collect_stats, inspect.write_card)
CARD_NAME = "RSTeller-style dataset"
CARD_TOP = 15

# rsteller-db sample (sample.generate_sample)
SAMPLE_SEED = 0
SAMPLE_SIZE_M = 3200.0

# rsteller-db ingest taginfo (taginfo.ingest_taginfo)
TAGINFO_LANG = "en"
