"""Typed errors of the library.

Every error the library raises on purpose derives from :class:`RstellerError`. The CLI turns
them into one ``Error: ...`` line and exit code 1; the message says what went wrong and which
command or option fixes it.
"""

from __future__ import annotations


class RstellerError(Exception):
    """Base class: a problem the user can fix, with a message that says how."""


class WarehouseError(RstellerError):
    """The warehouse file cannot be opened, created or written."""


class WarehouseLocked(WarehouseError):
    """Another process holds the warehouse file (``pid`` when DuckDB names it)."""

    def __init__(self, message: str, pid: int | None = None):
        super().__init__(message)
        self.pid = pid


class SettingsError(RstellerError):
    """A setting or the settings file is invalid."""


class StageError(RstellerError):
    """A SQL stage is malformed, unknown or failed to run."""


class AuditError(StageError):
    """An audit query returned offending rows; the build stopped."""

    def __init__(
        self, message: str, rows: list[tuple] | None = None, columns: list[str] | None = None
    ):
        super().__init__(message)
        self.rows = rows or []
        self.columns = columns or []


class QueryError(RstellerError):
    """An ad-hoc query failed (syntax, unknown table, ...)."""


class InputError(RstellerError):
    """An input file (PBF, raster, footprint index, ...) is missing or unreadable."""


class UnsafePathError(InputError):
    """A name from the input would become a path outside the folder it belongs in."""
