"""The dataset card: ``README.md`` (Hugging Face style) and its plots, written into one folder."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import jinja2

from .. import defaults
from ..errors import InputError
from ..paths import inside
from ..progress import QUIET, Reporter
from ..warehouse import Warehouse
from .card import CardStats, Section, collect_stats
from .plots import write_plots

LABELS = {
    "patches": "patches with captions", "captions": "accepted captions",
    "acceptance_pct": "accepted share of attempts (%)", "task1_pct": "Task 1 share (%)",
    "task2_pct": "Task 2 share (%)", "task3_pct": "Task 3 share (%)",
    "annotators": "annotator models", "mean_words": "mean words per caption",
    "tokens": "tokens", "vocabulary": "vocabulary (distinct tokens)",
    "mtld": "MTLD lexical diversity", "images_ok": "patch images fetched",
}
SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                   (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"))


@dataclass(frozen=True)
class CardFiles:
    readme: Path
    plots: list[Path]
    stats: CardStats


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        value = f"{value:g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(section: Section) -> str:
    """A section as a Markdown table, or the note saying what to run to fill it."""
    if section.missing:
        return f"_{section.missing}._"
    if not section.rows:
        return "_none._"
    lines = ["| " + " | ".join(section.columns) + " |",
             "|" + "---|" * len(section.columns)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in section.rows]
    return "\n".join(lines)


def size_category(n: int) -> str:
    for limit, label in SIZE_CATEGORIES:
        if n < limit:
            return label
    return "n>10M"


def render_card(stats: CardStats, *, name: str, warehouse: str) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    template = env.get_template("card.md.j2")
    parts: dict[str, list[str]] = {}  # the card's sections, each with its tables in file order
    for key, section in stats.sections.items():
        parts.setdefault(section.part, []).append(key)
    return template.render(
        name=name, warehouse=warehouse, head=stats.headline, labels=LABELS, parts=parts,
        sections=stats.sections, models=stats.models, table=markdown_table,
        size_category=size_category(int(stats.headline.get("patches", 0))),
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def write_card(wh: Warehouse, out_dir: str | Path, *, name: str = defaults.CARD_NAME,
               top: int = defaults.CARD_TOP, reporter: Reporter = QUIET) -> CardFiles:
    """Compute the statistics and write ``README.md`` and the PNG plots into ``out_dir``."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} is a file: pass --out a folder for the dataset card")
    out.mkdir(parents=True, exist_ok=True)
    stats = collect_stats(wh, top=top, reporter=reporter)
    reporter.step(f"drawing the plots into {out}")
    plots = write_plots(wh, stats, out)
    readme = inside(out, "README.md")
    readme.write_text(render_card(stats, name=name, warehouse=wh.path.name))
    return CardFiles(readme, plots, stats)
