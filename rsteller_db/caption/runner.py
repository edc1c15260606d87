"""The caption run: pending requests -> prompts -> back end (bounded, batched) -> rules -> rows.

A run goes in phases: Task 1/2 requests first, then the Task 3 revisions of the captions the
first phase accepted. Within a phase, prompts are sorted by their text so requests sharing the
instructions and examples reach the server together (prefix caches), and at most
``concurrency`` batches are in flight. Results are checked by the quality rules and committed
every ``commit_rows`` captions or ``commit_every_s`` seconds; a killed run loses only what was
in flight or not yet committed, and the next run asks only for what is missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import uuid
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from ..errors import RstellerError
from ..paths import PROMPTS_DIR
from ..progress import QUIET, Reporter
from ..settings import Settings, load_settings
from .backends import Backend, BackendOptions, Completion, Job, Sampling, create_backend
from .render import render_request
from .rules import RULES_DIR, Candidate, RuleBook
from .store import CaptionError, CaptionStore, LockBusy, PendingRequest


@dataclass(frozen=True)
class CaptionOptions:
    """Everything a caption run takes; the ``rsteller-db caption`` options read their defaults
    from here, and the back-end fields default to ``BackendOptions``'s."""

    backend: str = "local"
    urls: tuple[str, ...] = BackendOptions.urls
    model: str | None = BackendOptions.model
    tasks: tuple[int, ...] = (1, 2, 3)
    limit: int | None = None
    concurrency: int = 8
    batch_size: int = 16
    retry_rejected: int = 0
    attempted_only: bool = False  # only requests tried before (a fall-back run)
    sampling: Sampling = BackendOptions.sampling
    timeout_s: float = BackendOptions.timeout_s
    retries: int = BackendOptions.retries
    backoff_s: float = BackendOptions.backoff_s
    chat_format: str = BackendOptions.chat_format
    prompt_mode: str = BackendOptions.prompt_mode
    constrain: str = BackendOptions.constrain
    commit_rows: int = 256
    commit_every_s: float = 2.0
    lock_wait_s: float = 300.0
    prompts_dir: Path = PROMPTS_DIR
    rules_dir: Path = RULES_DIR

    def backend_options(self) -> BackendOptions:
        return BackendOptions(
            urls=self.urls,
            model=self.model,
            sampling=self.sampling,
            timeout_s=self.timeout_s,
            retries=self.retries,
            backoff_s=self.backoff_s,
            chat_format=self.chat_format,
            prompt_mode=self.prompt_mode,
            constrain=self.constrain,
        )


@dataclass
class RunSummary:
    run_id: str
    backend: str
    annotator: str = ""
    requests: int = 0
    accepted: int = 0
    rejected: int = 0
    failed: int = 0
    rejected_by_reason: Counter = field(default_factory=Counter)
    tokens_in: int = 0
    tokens_out: int = 0
    wall_s: float = 0.0

    @property
    def captions_per_s(self) -> float:
        return (self.accepted + self.rejected) / self.wall_s if self.wall_s else 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.tokens_out / self.wall_s if self.wall_s else 0.0

    def counters(self) -> dict:
        return {
            "requests": self.requests,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "failed": self.failed,
            "rejected_by_reason": json.dumps(dict(self.rejected_by_reason)),
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "wall_s": round(self.wall_s, 3),
        }

    def rows(self) -> list[tuple[str, object]]:
        reasons = ", ".join(f"{k} {v}" for k, v in self.rejected_by_reason.most_common()) or "-"
        return [
            ("run_id", self.run_id),
            ("backend", self.backend),
            ("annotator", self.annotator),
            ("requests", self.requests),
            ("accepted", self.accepted),
            ("rejected", self.rejected),
            ("rejected by reason", reasons),
            ("failed", self.failed),
            ("tokens in", self.tokens_in),
            ("tokens out", self.tokens_out),
            ("wall s", round(self.wall_s, 2)),
            ("captions/s", round(self.captions_per_s, 2)),
            ("tokens/s", round(self.tokens_per_s, 1)),
        ]


@dataclass
class _Item:
    request: PendingRequest
    attempt: int
    rejected_before: int
    prompt_name: str
    prompt_hash: str
    job: Job


def job_seed(base_seed: int, request_id: str, attempt: int) -> int:
    digest = hashlib.sha256(f"{base_seed}:{request_id}:{attempt}".encode()).hexdigest()
    return int(digest[:8], 16)


class CaptionRun:
    def __init__(
        self,
        path: Path,
        settings: Settings,
        options: CaptionOptions,
        backend: Backend,
        reporter: Reporter,
    ):
        self.store = CaptionStore(path, settings)
        self.settings = settings
        self.options = options
        self.backend = backend
        self.reporter = reporter
        self.rules = RuleBook(options.rules_dir)
        self.summary = RunSummary(uuid.uuid4().hex[:12], backend.name)
        self.t0 = time.perf_counter()
        self.buffer: list[tuple[_Item, Completion]] = []
        self.last_commit = time.monotonic()

    # -- preparation ---------------------------------------------------------------------
    def _item(self, request: PendingRequest, attempt: int, rejected_before: int) -> _Item:
        try:
            prompt, safe = render_request(
                request.prompt_name,
                request.payload,
                max_chars=int(self.settings["tag_value_max_chars"]),
                folder=self.options.prompts_dir,
            )
        except RstellerError as exc:
            raise CaptionError(f"request {request.request_id}: {exc}") from exc
        seed = job_seed(int(self.settings["seed"]), request.request_id, attempt)
        job = Job(f"{request.request_id}-a{attempt}", request.task, prompt.text, seed, safe)
        return _Item(request, attempt, rejected_before, prompt.prompt_name, prompt.prompt_hash, job)

    def _row(self, item: _Item, done: Completion, status: str, reason: str | None) -> dict:
        sampling = {
            **self.backend.sampling.to_dict(),
            **self.backend.decoding(),
            "seed": item.job.seed,
        }
        return {
            "caption_id": item.job.key,
            "request_id": item.request.request_id,
            "patch_id": item.request.patch_id,
            "task": item.request.task,
            "attempt": item.attempt,
            "text": done.text,
            "annotator": done.annotator or self.summary.annotator,
            "backend": self.backend.name,
            "prompt_name": item.prompt_name,
            "prompt_hash": item.prompt_hash,
            "sampling": json.dumps(sampling),
            "status": status,
            "reject_reason": reason,
            "tokens_in": done.tokens_in,
            "tokens_out": done.tokens_out,
            "latency_s": round(done.latency_s, 4),
            "run_id": self.summary.run_id,
            "created_at": datetime.now(),
        }

    # -- committing ----------------------------------------------------------------------
    def flush(self, final: bool) -> list[_Item]:
        """Check and store the buffer; return the rejected items that earn another attempt."""
        if not self.buffer:
            return []
        batch = self.buffer
        verdicts = self.rules.check(
            Candidate(
                item.job.key,
                item.request.request_id,
                item.request.task,
                done.text,
                json.dumps(item.request.payload),
                item.job.prompt,
            )
            for item, done in batch
            if done.error is None
        )
        rows, retry, summary = (
            [],
            [],
            replace(self.summary, rejected_by_reason=Counter(self.summary.rejected_by_reason)),
        )
        for item, done in batch:
            if done.error is not None:
                status, reason = "failed", done.error
                summary.failed += 1
            elif item.job.key in verdicts:
                status, reason = "rejected", verdicts[item.job.key]
                summary.rejected += 1
                summary.rejected_by_reason[reason] += 1
                if item.rejected_before + 1 <= self.options.retry_rejected:
                    retry.append(item)
            else:
                status, reason = "accepted", None
                summary.accepted += 1
            summary.tokens_in += done.tokens_in or 0
            summary.tokens_out += done.tokens_out or 0
            rows.append(self._row(item, done, status, reason))
        summary.wall_s = time.perf_counter() - self.t0
        wait_s = self.options.lock_wait_s if final else 1.0
        try:
            self.store.write(rows, summary.run_id, summary.counters(), wait_s)
        except LockBusy:
            if final:
                raise
            return []  # keep the buffer; the next flush tries again
        self.summary = summary
        self.buffer = []
        self.last_commit = time.monotonic()
        return [self._item(i.request, i.attempt + 1, i.rejected_before + 1) for i in retry]

    def _due(self) -> bool:
        return (
            len(self.buffer) >= self.options.commit_rows
            or time.monotonic() - self.last_commit >= self.options.commit_every_s
        )

    # -- one phase -----------------------------------------------------------------------
    def run_phase(self, tasks: tuple[int, ...], limit: int | None) -> None:
        with self.store.writer(self.options.lock_wait_s) as con:
            pending = self.store.pending(
                con, tasks, self.options.retry_rejected, limit, self.options.attempted_only
            )
        if not pending:
            return
        label = "Task " + "/".join(map(str, tasks))
        self.reporter.step(
            f"{label}: {len(pending)} request(s) to caption with {self.backend.name}"
        )
        items = [self._item(p, p.attempt, p.rejected_before) for p in pending]
        items.sort(key=lambda i: i.job.prompt)
        self.summary.requests += len(items)
        queue = deque(items)
        size = max(1, min(self.options.batch_size, self.backend.max_batch))
        workers = max(1, min(self.options.concurrency, self.backend.max_concurrency or 1 << 30))
        in_flight: dict[Future, list[_Item]] = {}
        with (
            self.reporter.bar(f"captions {label}", total=len(items)) as bar,
            ThreadPoolExecutor(workers, thread_name_prefix="caption") as pool,
        ):
            while queue or in_flight:
                while queue and len(in_flight) < workers:
                    batch = [queue.popleft() for _ in range(min(size, len(queue)))]
                    in_flight[pool.submit(self.backend.generate, [i.job for i in batch])] = batch
                done, _ = wait(in_flight, timeout=0.25, return_when=FIRST_COMPLETED)
                for future in done:
                    batch = in_flight.pop(future)
                    self.buffer.extend(zip(batch, self._results(future, batch), strict=True))
                    bar.advance(len(batch))
                if self.buffer and (self._due() or not (queue or in_flight)):
                    retries = self.flush(final=not (queue or in_flight))
                    if retries:
                        bar.total(len(items) + len(retries))
                        queue.extend(sorted(retries, key=lambda i: i.job.prompt))
                    bar.note(self._rates())

    def _results(self, future: Future, batch: list[_Item]) -> list[Completion]:
        try:
            results = future.result()
        except Exception as exc:  # a back end bug must not lose the rest of the run
            reason = f"{type(exc).__name__}: {exc}"[:300]
            return [Completion(None, self.summary.annotator, error=reason) for _ in batch]
        if len(results) != len(batch):
            return [
                Completion(None, self.summary.annotator, error="back end answered the wrong count")
                for _ in batch
            ]
        return results

    def _rates(self) -> str:
        s, elapsed = self.summary, max(time.perf_counter() - self.t0, 1e-9)
        return (
            f"{(s.accepted + s.rejected) / elapsed:.2f} captions/s"
            f" · {s.tokens_out / elapsed:.0f} tok/s"
            f" · {s.rejected} rejected · {s.failed} failed"
        )

    # -- the whole run -------------------------------------------------------------------
    def run(self) -> RunSummary:
        o = self.options
        record = {
            "run_id": self.summary.run_id,
            "started_at": datetime.now(),
            "status": "running",
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "backend": self.backend.name,
            "annotator": self.summary.annotator,
            "target": self.backend.describe(),
            "tasks": ",".join(map(str, o.tasks)),
            "options": json.dumps(
                {
                    "concurrency": o.concurrency,
                    "batch_size": o.batch_size,
                    "limit": o.limit,
                    "retry_rejected": o.retry_rejected,
                    "timeout_s": o.timeout_s,
                    "retries": o.retries,
                }
            ),
            "sampling": json.dumps({**self.backend.sampling.to_dict(), **self.backend.decoding()}),
            "rules": json.dumps({r.name: r.kind for r in self.rules.rules}),  # the rule book
        }
        self.store.bootstrap()
        self.store.begin_run(record)
        status = "failed"
        try:
            for phase in ((1, 2), (3,)):
                tasks = tuple(t for t in phase if t in o.tasks)
                if tasks:
                    left = None if o.limit is None else max(o.limit - self.summary.requests, 0)
                    if left != 0:
                        self.run_phase(tasks, left)
            status = "finished"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            self.summary.wall_s = time.perf_counter() - self.t0
            try:
                self.flush(final=True)
                with self.store.writer(o.lock_wait_s) as con:
                    con.execute(
                        "UPDATE _meta.caption_runs SET status = ?, finished_at = ?, wall_s = ? "
                        "WHERE run_id = ?",
                        [
                            status,
                            datetime.now(),
                            round(self.summary.wall_s, 3),
                            self.summary.run_id,
                        ],
                    )
            finally:
                self.rules.close()
        return self.summary


def run_captions(
    path: str | Path,
    options: CaptionOptions,
    *,
    settings: Settings | None = None,
    reporter: Reporter = QUIET,
) -> RunSummary:
    """Caption every pending request of ``options.tasks`` in the warehouse at ``path``.

    The back end starts first: a server that cannot be reached raises ``BackendError`` naming
    the URL, before anything is written."""
    settings = settings or load_settings()
    if not set(options.tasks) <= {1, 2, 3} or not options.tasks:
        raise CaptionError(f"--tasks takes 1, 2 and/or 3, got {options.tasks}")
    if not Path(path).is_file():
        raise CaptionError(
            f"no warehouse at {path}: run `rsteller-db init` and `rsteller-db build` first"
        )
    backend = create_backend(options.backend, options.backend_options())
    try:
        annotator = backend.start()
        run = CaptionRun(Path(path), settings, options, backend, reporter)
        run.summary.annotator = annotator
        return run.run()
    finally:
        backend.close()


__all__ = ["CaptionError", "CaptionOptions", "RunSummary", "run_captions"]
