"""A fall-back back end for what the main one could not caption.

A small model's caption can stay rejected after every retry, and a server can fail a request
for good. With ``--fallback template`` such requests are captioned by the deterministic
template back end instead, phase by phase: the main back end captions Task 1/2, the fall-back
takes over the Task 1/2 requests still without an accepted caption, then the main back end
revises every accepted Task 1/2 caption (its own and the fall-back's), and the fall-back takes
over the revisions it gave up on. Each run is its own ``_meta.caption_runs`` row, and every
caption records the back end and annotator that wrote it, so the split is plain in the data
(and in the dataset card): no caption claims a model that did not write it.

The fall-back asks only for requests the main back end tried (``attempted_only``), and for each
at most once more than the main budget (``retry_rejected + 1``), so a caption it cannot write
either is not asked for again and again.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from ..progress import QUIET, Reporter
from ..settings import Settings
from .runner import CaptionOptions, RunSummary, run_captions

PHASES = ((1, 2), (3,))


@dataclass
class FallbackSummary:
    """The runs of a caption command with a fall-back, in the order they ran."""

    main: list[RunSummary] = field(default_factory=list)
    fallback: list[RunSummary] = field(default_factory=list)

    @staticmethod
    def _total(runs: list[RunSummary], name: str) -> int:
        return sum(getattr(r, name) for r in runs)

    def rows(self) -> list[tuple[str, object]]:
        """The main back end's summary (its phases added up), then the fall-back's counts."""
        first = self.main[0]
        merged = replace(
            first,
            run_id=",".join(r.run_id for r in self.main),
            requests=self._total(self.main, "requests"),
            accepted=self._total(self.main, "accepted"),
            rejected=self._total(self.main, "rejected"),
            failed=self._total(self.main, "failed"),
            tokens_in=self._total(self.main, "tokens_in"),
            tokens_out=self._total(self.main, "tokens_out"),
            wall_s=sum(r.wall_s for r in self.main),
            rejected_by_reason=sum((r.rejected_by_reason for r in self.main[1:]),
                                   first.rejected_by_reason.copy()),
        )
        rows = merged.rows()
        if self.fallback:
            rows += [
                ("fallback backend", self.fallback[0].backend),
                ("fallback annotator", self.fallback[0].annotator),
                ("fallback requests", self._total(self.fallback, "requests")),
                ("fallback accepted", self._total(self.fallback, "accepted")),
                ("fallback rejected", self._total(self.fallback, "rejected")),
            ]
        return rows

    @property
    def failed(self) -> int:
        """Requests that failed and were not taken over (the fall-back's own failures)."""
        if self.fallback:
            return self._total(self.fallback, "failed")
        return self._total(self.main, "failed")


def run_with_fallback(
    path: str | Path,
    options: CaptionOptions,
    fallback: str,
    *,
    settings: Settings | None = None,
    reporter: Reporter = QUIET,
) -> FallbackSummary:
    """Caption with ``options.backend``, then with ``fallback`` what it could not (see above)."""
    out = FallbackSummary()
    for phase in PHASES:
        tasks = tuple(t for t in phase if t in options.tasks)
        asked = sum(r.requests for r in out.main)
        left = None if options.limit is None else options.limit - asked
        if not tasks or left == 0:
            continue
        phase_options = replace(options, tasks=tasks, limit=left)
        out.main.append(run_captions(path, phase_options, settings=settings, reporter=reporter))
        if fallback == options.backend:
            continue
        takeover = CaptionOptions(
            backend=fallback,
            tasks=tasks,
            retry_rejected=options.retry_rejected + 1,
            attempted_only=True,
            prompts_dir=options.prompts_dir,
            rules_dir=options.rules_dir,
            where=options.where,
            lock_wait_s=options.lock_wait_s,
        )
        out.fallback.append(run_captions(path, takeover, settings=settings, reporter=reporter))
    return out
