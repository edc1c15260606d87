"""What every command shares: the app context, the warehouse option, the format and partition
options."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import click

from ..errors import AuditError, RstellerError
from ..paths import warehouse_path
from ..progress import Reporter
from ..render import FORMATS, render
from ..settings import Settings, load_settings
from ..warehouse import READER_LOCK_WAIT_S, Warehouse


@dataclass
class App:
    warehouse: str | None = None
    config: str | None = None
    quiet: bool = False
    lock_wait_s: float = READER_LOCK_WAIT_S
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def path(self) -> Path:
        return warehouse_path(self.warehouse)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config)
        return self._settings

    @property
    def reporter(self) -> Reporter:
        return Reporter(quiet=self.quiet)

    def open(
        self, *, read_only: bool = False, create: bool = True, make_folder: bool = False
    ) -> Warehouse:
        """The warehouse; a read-only open waits up to ``--lock-wait`` seconds for a file
        another process holds (a caption run, an image fetch), a writable one fails at once."""
        return Warehouse(self.path, read_only=read_only, settings=self.settings, create=create,
                         make_folder=make_folder, progress_bar=not self.quiet,
                         lock_wait_s=self.lock_wait_s if read_only else 0.0,
                         on_lock_wait=self.reporter.warn)


pass_app = click.make_pass_decorator(App, ensure=True)


def format_option(default: str = "table"):
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default=default,
        show_default=True,
        help="Output format: an aligned table, CSV, a JSON array, or newline-delimited JSON.",
    )


def partition_option(what: str, note: str = ""):
    """``--partition KEY`` (repeatable) as every command that narrows to partitions spells it:
    ``what`` names what it keeps (requests, patches, samples), ``note`` ends the help."""
    return click.option(
        "--partition",
        "partitions",
        multiple=True,
        metavar="KEY",
        help=f"Only the {what} of this partition (repeatable; "
        f"int_patches_gridded.partition_key, e.g. n41w075){note}.",
    )


def emit(columns, rows, fmt: str, title: str | None = None) -> None:
    click.echo(render(columns, rows, fmt, title=title), nl=False)


class RstellerGroup(click.Group):
    """A click group that turns library errors into ``Error: ...`` and exit code 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except AuditError as exc:
            if exc.rows:
                click.echo(render(exc.columns, exc.rows, "table"), err=True, nl=False)
            raise click.ClickException(str(exc)) from exc
        except RstellerError as exc:
            raise click.ClickException(str(exc)) from exc


def read_sql_argument(sql: str) -> str:
    return sys.stdin.read() if sql == "-" else sql
