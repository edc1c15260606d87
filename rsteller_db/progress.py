"""Progress display for long work: rich bars on stderr, or nothing in quiet mode.

Library functions take a ``Reporter`` (default: quiet) so they stay silent when used from
Python; the CLI passes a live one unless ``--quiet``. A bar shows done/total, the rate, the
time left and a note (e.g. accepted/rejected counts) from its first refresh. When stderr is not
a terminal (a log file, CI, ``nohup``), a bar is a plain line printed every ``LINE_EVERY_S``
seconds and once at the end, instead of a redrawn bar that a log would truncate or garble.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
LINE_EVERY_S = 10.0
RATE_WINDOW_S = 30.0  # the rate and the time left are taken over the last half minute


class Reporter:
    """Numbered steps, messages and progress bars. ``Reporter(quiet=True)`` prints nothing."""

    def __init__(self, quiet: bool = True, line_every_s: float = LINE_EVERY_S):
        self.quiet = quiet
        self.line_every_s = line_every_s
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
        if not self._console.is_terminal:
            line = LineBar(self._console, description, total, self.line_every_s)
            try:
                yield line
            finally:
                line.close()
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        class RateColumn(ProgressColumn):
            def render(self, task):
                speed = task.finished_speed or task.speed
                return f"{_number(speed)}/s" if speed else "-/s"

        columns = [
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[extra]}"),
        ]
        with Progress(
            *columns, console=self._console, transient=False, speed_estimate_period=RATE_WINDOW_S
        ) as prog:
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


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}" if value >= 1 else f"{value:.2f}"


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    if hours:
        return f"{hours}h{rest // 60:02d}m"
    return f"{rest // 60}m{rest % 60:02d}s" if rest >= 60 else f"{rest}s"


class LineBar:
    """A bar for logs: ``description: done/total (pct) · rate/s · ETA · elapsed · note`` every
    ``every_s`` seconds from a timer thread, and once when it closes."""

    def __init__(self, console, description: str, total: int | None, every_s: float):
        self.console, self.description, self.every_s = console, description, every_s
        self._total, self._done, self._note = total, 0, ""
        self._t0 = time.monotonic()
        self._samples: deque[tuple[float, int]] = deque([(self._t0, 0)])
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._timer = threading.Thread(target=self._tick, daemon=True)
        self._timer.start()

    def advance(self, n: int = 1) -> None:
        with self._lock:
            self._done += n
            now = time.monotonic()
            self._samples.append((now, self._done))
            while len(self._samples) > 2 and self._samples[1][0] < now - RATE_WINDOW_S:
                self._samples.popleft()

    def note(self, text: str) -> None:
        with self._lock:
            self._note = text

    def total(self, total: int | None) -> None:
        with self._lock:
            self._total = total

    def line(self) -> str:
        with self._lock:
            now = time.monotonic()
            done, total, note = self._done, self._total, self._note
            (t_first, n_first) = self._samples[0]
            rate = (done - n_first) / (now - t_first) if now > t_first else 0.0
        parts = [f"{done:,}/{total:,} ({100 * done / total:.1f}%)" if total else f"{done:,}"]
        parts.append(f"{_number(rate)}/s")
        if total and rate > 0 and done < total:
            parts.append(f"ETA {_duration((total - done) / rate)}")
        parts.append(f"elapsed {_duration(now - self._t0)}")
        if note:
            parts.append(note)
        return f"{self.description}: " + " · ".join(parts)

    def _tick(self) -> None:
        while not self._stop.wait(self.every_s):
            self.console.print(self.line(), highlight=False, soft_wrap=True)

    def close(self) -> None:
        self._stop.set()
        self._timer.join()
        self.console.print(self.line(), highlight=False, soft_wrap=True)


QUIET = Reporter(quiet=True)
