"""PNG plots of the dataset card, drawn with matplotlib (Agg, no display needed)."""

from __future__ import annotations

import math
from pathlib import Path

import shapely

from ..paths import inside
from ..warehouse import Warehouse
from .card import CardStats

MAX_PATCH_SQUARES = 20_000  # above this the coverage map draws patch centres, not squares
COLOURS = {"captioned": "#d9480f", "image only": "#4c6ef5", "gridded": "#adb5bd"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, ax, title: str, path: Path) -> Path:
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#868e96")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_task_annotator(stats: CardStats, path: Path) -> Path:
    """Stacked bars: accepted captions per task, one colour per annotator."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    section = stats.sections["tasks"]
    if section.missing or not section.rows:
        _empty(ax, "no captions yet")
    else:
        tasks = sorted({r[0] for r in section.rows})
        annotators = sorted({r[1] for r in section.rows})
        counts = {(r[0], r[1]): r[2] for r in section.rows}
        bottom = [0] * len(tasks)
        labels = [f"Task {t}" for t in tasks]
        for annotator in annotators:
            values = [counts.get((t, annotator), 0) for t in tasks]
            ax.bar(labels, values, bottom=bottom, label=annotator.rsplit("/", 1)[-1])
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        ax.set_ylabel("accepted captions")
        ax.legend(fontsize=8, frameon=False)
    return _save(plt, fig, ax, "Captions by task and annotator", path)


def plot_caption_lengths(stats: CardStats, path: Path) -> Path:
    """Histogram of caption length in words, one series per task."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    if not stats.words_by_task:
        _empty(ax, "no captions yet")
    else:
        low = min(min(v) for v in stats.words_by_task.values())
        top = max(max(v) for v in stats.words_by_task.values())
        bins = range(low, top + 2, max(1, (top - low + 2) // 40))
        for task in sorted(stats.words_by_task):
            ax.hist(stats.words_by_task[task], bins=bins, alpha=0.6, label=f"Task {task}")
        ax.set_xlabel("words per caption")
        ax.set_ylabel("captions")
        ax.legend(frameon=False)
    return _save(plt, fig, ax, "Caption length", path)


def _coverage_rows(wh: Warehouse) -> tuple[list, list]:
    """Image footprints (``stg_naip__images``) and (patch, coverage) of the ``patch_coverage``
    mart."""
    footprints = []
    if wh.relation_exists("stg_naip__images"):
        footprints = [shapely.from_wkb(r[0]) for r in wh.con.execute(
            "select ST_AsWKB(geom) from stg_naip__images where geom is not null").fetchall()]
    patches = []
    if wh.relation_exists("patch_coverage"):
        patches = wh.con.execute(
            "select ST_AsWKB(geom), coverage from patch_coverage").fetchall()
    return footprints, patches


def plot_coverage(wh: Warehouse, path: Path) -> Path:
    """Image footprints with the patches over them, coloured by what the dataset holds."""
    from matplotlib.collections import PolyCollection

    plt = _pyplot()
    footprints, patches = _coverage_rows(wh)
    fig, ax = plt.subplots(figsize=(7, 7), dpi=110)
    if not footprints and not patches:
        _empty(ax, "no images or patches yet")
    for fp in footprints:
        for poly in getattr(fp, "geoms", [fp]):
            x, y = poly.exterior.xy
            ax.plot(x, y, color="#212529", linewidth=0.8)
    for label, colour in COLOURS.items():
        geoms = [shapely.from_wkb(w) for w, status in patches if status == label]
        if not geoms:
            continue
        if len(patches) <= MAX_PATCH_SQUARES:
            rings = [list(g.exterior.coords) for g in geoms if g.geom_type == "Polygon"]
            ax.add_collection(PolyCollection(rings, facecolor=colour, edgecolor="white",
                                             linewidth=0.3, alpha=0.85, label=label))
        else:
            centres = shapely.centroid(geoms)
            ax.scatter(shapely.get_x(centres), shapely.get_y(centres), s=1, color=colour,
                       label=label)
    if footprints or patches:
        ax.autoscale_view()
        lat = (ax.get_ylim()[0] + ax.get_ylim()[1]) / 2
        ax.set_aspect(1 / max(math.cos(math.radians(lat)), 0.01), adjustable="datalim")
        ax.set_xlabel("longitude")
        ax.set_ylabel("latitude")
        ax.legend(fontsize=8, loc="upper right")
        ax.ticklabel_format(useOffset=False)
    return _save(plt, fig, ax, "Patch coverage over the image footprints", path)


def write_plots(wh: Warehouse, stats: CardStats, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    return [
        plot_task_annotator(stats, inside(out_dir, "task_annotator.png")),
        plot_caption_lengths(stats, inside(out_dir, "caption_length.png")),
        plot_coverage(wh, inside(out_dir, "coverage_map.png")),
    ]
