"""Inspecting the dataset: card statistics (with MTLD), plots, and the HTML preview."""

from __future__ import annotations

from .card import CardStats, Section, collect_stats
from .lexical import LexicalAccumulator, mtld, tokenize
from .preview import PreviewResult, sample_columns, select_samples, write_preview
from .readme import CardFiles, render_card, write_card
from .where import checked_query

__all__ = [
    "CardFiles",
    "CardStats",
    "LexicalAccumulator",
    "PreviewResult",
    "Section",
    "checked_query",
    "collect_stats",
    "mtld",
    "render_card",
    "sample_columns",
    "select_samples",
    "tokenize",
    "write_card",
    "write_preview",
]
