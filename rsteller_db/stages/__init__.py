"""SQL stages: discovery of ``sql/`` files, and the runner that builds them in order.

The relation is named after the file without its order prefix:
``sql/40_marts/10_caption_requests.sql`` builds ``caption_requests``. Layers run in the order
their folders list in (``10_seeds``, ``20_staging``, ``30_intermediate``, ``40_marts``; see
``paths.SQL_FOLDERS``); the number in a file name only orders files within a layer. Seeds
(``sql/10_seeds/*.csv``) load first as tables named after the file, and audits
(``sql/stage_audits/<relation>__<check>.sql``) run right after the relation they name, inside
its transaction: any row they return rolls the stage back.

- ``discovery``: headers, SQL, audits, and what each stage reads (parsed from its SQL);
- ``fingerprints``: what a build was made from, so unchanged stages are skipped;
- ``partitions``: the patch-grained stages, one partition (1-degree cell) at a time;
- ``executors``: where partitions are built (``local``, ``ray``);
- ``runner``: the build.
"""

from __future__ import annotations

from .discovery import LAYERS, Audit, Stage, discover, select, sha256_text, sql_inputs
from .runner import (
    AUDIT_SAMPLE_ROWS,
    BuildResult,
    StageResult,
    build,
    run_audits,
    run_stage,
    stage_status,
)

__all__ = [
    "AUDIT_SAMPLE_ROWS", "Audit", "BuildResult", "LAYERS", "Stage", "StageResult", "build",
    "discover", "run_audits", "run_stage", "select", "sha256_text", "sql_inputs", "stage_status",
]
