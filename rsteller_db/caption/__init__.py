"""Captioning: caption requests -> LLM back ends -> quality rules -> the ``captions`` table.

Modules: ``backends/`` (one interface, a registry, one module per back end), ``render``
(untrusted text made safe, then the prompt), ``rules`` (SQL quality rules), ``store``
(pending requests and batched writes), ``runner`` (the run and its summary).
"""

from .backends import BackendError, Sampling, backend_names
from .rules import check_text, load_rules
from .runner import CaptionOptions, RunSummary, run_captions
from .store import CaptionError

__all__ = [
    "BackendError",
    "CaptionError",
    "CaptionOptions",
    "RunSummary",
    "Sampling",
    "backend_names",
    "check_text",
    "load_rules",
    "run_captions",
]
