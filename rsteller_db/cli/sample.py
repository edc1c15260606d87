"""``rsteller-db sample``: the bundled synthetic region."""

from __future__ import annotations

from pathlib import Path

import click

from .. import defaults
from . import main
from .common import App, pass_app


@main.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("warehouse/sample"),
    show_default=True,
    help="Folder to write into.",
)
@click.option(
    "--seed", type=int, default=defaults.SAMPLE_SEED, show_default=True,
    help="Layout seed; same seed, same bytes."
)
@click.option(
    "--size-m",
    type=float,
    default=defaults.SAMPLE_SIZE_M,
    show_default=True,
    help="Side of the town square in metres.",
)
@pass_app
def sample(app: App, out_dir: Path, seed: int, size_m: float) -> None:
    """Generate the bundled sample: a synthetic US town as an OSM PBF and a NAIP-like GeoTIFF.

    \b
    Example:
      rsteller-db sample --out warehouse/sample --seed 0
    """
    from ..sample import generate_sample

    app.reporter.step(f"generating the sample town (seed {seed}) in {out_dir}")
    out_dir.mkdir(parents=True, exist_ok=True)
    files = generate_sample(out_dir, seed=seed, size_m=size_m)
    click.echo(f"{files.pbf}\n{files.raster}")
