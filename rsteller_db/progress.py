"""Progress display for long work: rich bars on stderr, or nothing in quiet mode.

Library functions take a ``Reporter`` (default: quiet) so they stay silent when used from
Python; the CLI passes a live one unless ``--quiet``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


class Reporter:
    """Numbered steps, messages and progress bars. ``Reporter(quiet=True)`` prints nothing."""

    def __init__(self, quiet: bool = True):
        self.quiet = quiet
        self._step = 0
        self._console = None
        if not quiet:
            from rich.console import Console

            self._console = Console(file=sys.stderr)

    def step(self, text: str) -> None:
        self._step += 1
        if self._console:
            self._console.print(f"[bold cyan][{self._step}][/] {text}")

    def info(self, text: str) -> None:
        if self._console:
            self._console.print(text, highlight=False)

    def warn(self, text: str) -> None:
        if self._console:
            self._console.print(f"[yellow]warning:[/] {text}", highlight=False)

    @contextmanager
    def bar(self, description: str, total: int | None = None) -> Iterator[BarHandle]:
        """A bar advanced by ``handle.advance(n)``; a spinner when ``total`` is unknown."""
        if not self._console:
            yield BarHandle(None, None)
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        columns = [
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[extra]}"),
        ]
        with Progress(*columns, console=self._console, transient=False) as prog:
            task = prog.add_task(description, total=total, extra="")
            yield BarHandle(prog, task)

    def track(self, items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
        if total is None and hasattr(items, "__len__"):
            total = len(items)  # type: ignore[arg-type]
        with self.bar(description, total) as handle:
            for item in items:
                yield item
                handle.advance()


class BarHandle:
    def __init__(self, progress, task):
        self._progress = progress
        self._task = task

    def advance(self, n: int = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def note(self, text: str) -> None:
        """Text shown after the bar (rates, counts)."""
        if self._progress is not None:
            self._progress.update(self._task, extra=text)

    def total(self, total: int | None) -> None:
        if self._progress is not None:
            self._progress.update(self._task, total=total)


QUIET = Reporter(quiet=True)
