"""The caption run: pending requests -> prompts -> back end -> rules -> rows, streamed.

A run goes in phases: Task 1/2 requests first, then the Task 3 revisions of the captions the
first phase accepted. Within a phase three threads share the work:

- the feeder reads the pending requests chunk by chunk (``pending.PendingRequests``), renders
  their prompts and sorts each chunk by prompt text, so requests sharing the instructions and
  examples reach the server together (llama.cpp's and SGLang's prefix caches); it stays at most
  ``QUEUED_CHUNKS`` chunks ahead, so memory does not grow with the number of requests;
- the dispatcher (the calling thread) keeps ``concurrency`` batches in flight per server and
  hands every answer to the committer;
- the committer checks the answers with the quality rules (``RuleBook``, once per committed
  batch) and stores them, the first batch at once, then every ``commit_every_s`` seconds or
  ``commit_rows`` answers; rejected answers that earn another attempt go back to the dispatcher.

The warehouse is held only while a chunk is read (read-only) or a batch is committed. A killed
run loses only what was in flight or not yet committed; the next run asks only for what is
missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import socket
import threading
import time
import uuid
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..errors import RstellerError
from ..paths import PROMPTS_DIR
from ..progress import QUIET, Reporter
from ..settings import Settings, load_settings
from .backends import Backend, BackendOptions, Completion, Job, Sampling, create_backend
from .pending import PendingRequest, PendingRequests
from .render import render_request
from .rules import RULES_DIR, Candidate, RuleBook
from .store import CaptionError, CaptionStore

QUEUED_CHUNKS = 2  # rendered chunks the feeder keeps ready ahead of the dispatcher
FIRST_ITEMS = 256  # requests rendered and sent before the rest of the first chunk


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
    where: str | None = None  # SQL condition over the requests (a partition, a region...)
    chunk_rows: int = 2048
    commit_rows: int = 4096
    commit_every_s: float = 2.0
    lock_wait_s: float = 300.0
    prompts_dir: Path = PROMPTS_DIR
    rules_dir: Path = RULES_DIR

    def in_flight(self, backend: Backend) -> int:
        """Batches in flight: ``concurrency`` per server (``--url``), within the back end's cap."""
        wanted = self.concurrency * max(1, len(self.urls))
        return max(1, min(wanted, backend.max_concurrency or wanted))

    def backend_options(self, threads: int = BackendOptions.threads) -> BackendOptions:
        return BackendOptions(
            threads=threads,
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


class _Feeder:
    """Reads, renders and sorts the pending requests of a phase in its own thread."""

    _END = object()

    def __init__(self, run: CaptionRun, pending: PendingRequests, limit: int | None):
        self.run, self.pending, self.limit = run, pending, limit
        self.chunks: queue.Queue = queue.Queue(maxsize=QUEUED_CHUNKS)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="caption-feed", daemon=True)
        self._thread.start()

    def _put(self, value) -> bool:
        while not self._stop.is_set():
            try:
                self.chunks.put(value, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _loop(self) -> None:
        try:
            first = True
            for chunk in self.pending.chunks(self.run.options.chunk_rows, self.limit):
                # the first requests go out before the rest of the first chunk is rendered
                parts = [chunk[:FIRST_ITEMS], chunk[FIRST_ITEMS:]] if first else [chunk]
                first = False
                for part in filter(None, parts):
                    items = [self.run.item(p, p.attempt, p.rejected_before) for p in part]
                    items.sort(key=lambda i: i.job.prompt)
                    if not self._put(items):
                        return
            self._put(self._END)
        except BaseException as exc:  # handed to the dispatcher, which raises it
            self._put(exc)

    def get(self, timeout: float) -> list[_Item] | None | object:
        """The next rendered chunk, ``_END`` after the last, ``None`` if none is ready yet."""
        try:
            value = self.chunks.get(timeout=timeout) if timeout > 0 else self.chunks.get_nowait()
        except queue.Empty:
            return None
        if isinstance(value, BaseException):
            raise value
        return value

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


class _Committer:
    """Checks and stores answers in its own thread: the first batch at once, then every
    ``commit_every_s`` seconds or ``commit_rows`` answers, and all that is left on ``drain``."""

    def __init__(self, run: CaptionRun):
        self.run = run
        self._cv = threading.Condition()
        self._buffer: list[tuple[_Item, Completion]] = []
        self._retries: list[_Item] = []
        self._busy = self._closing = self._now = False
        self._error: BaseException | None = None
        self._last = float("-inf")
        self._thread = threading.Thread(target=self._loop, name="caption-commit", daemon=True)
        self._thread.start()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def add(self, pairs: list[tuple[_Item, Completion]]) -> None:
        with self._cv:
            self._raise()
            self._buffer.extend(pairs)
            self._cv.notify_all()

    def take_retries(self) -> list[_Item]:
        with self._cv:
            self._raise()
            retries, self._retries = self._retries, []
            return retries

    def drain(self) -> None:
        """Commit everything handed over so far, and wait until it is stored."""
        with self._cv:
            self._now = True
            self._cv.notify_all()
            self._cv.wait_for(lambda: self._error or not (self._buffer or self._busy))
            self._now = False
            self._raise()

    def close(self) -> BaseException | None:
        """Store what is left, stop the thread, and return the error that stopped it, if any."""
        with self._cv:
            self._closing = True
            self._cv.notify_all()
        self._thread.join()
        return self._error

    def _due(self) -> bool:
        return bool(self._buffer) and (
            self._closing
            or self._now
            or len(self._buffer) >= self.run.options.commit_rows
            or time.monotonic() - self._last >= self.run.options.commit_every_s
        )

    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._due():
                    if self._closing:
                        return
                    self._cv.wait(timeout=0.1)
                batch, self._buffer, self._busy = self._buffer, [], True
            try:
                retries = self.run.commit(batch, final=self._closing)
            except BaseException as exc:  # raised in the dispatcher by its next call
                with self._cv:
                    self._error, self._busy = exc, False
                    self._cv.notify_all()
                return
            with self._cv:
                self._retries.extend(retries)
                self._busy, self._last = False, time.monotonic()
                self._cv.notify_all()


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
        self.rules = RuleBook(options.rules_dir, background=True)  # ready by the first commit
        self.summary = RunSummary(uuid.uuid4().hex[:12], backend.name)
        self.t0 = time.perf_counter()
        self.first_commit_s: float | None = None  # seconds from the start to the first commit

    # -- preparation ---------------------------------------------------------------------
    def item(self, request: PendingRequest, attempt: int, rejected_before: int) -> _Item:
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

    # -- committing (the committer thread) -----------------------------------------------
    def commit(self, batch: list[tuple[_Item, Completion]], final: bool = False) -> list[_Item]:
        """Check and store one batch; return the rejected items that earn another attempt."""
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
        rows, retry = [], []
        delta = RunSummary(self.summary.run_id, self.summary.backend)
        for item, done in batch:
            if done.error is not None:
                status, reason = "failed", done.error
                delta.failed += 1
            elif item.job.key in verdicts:
                status, reason = "rejected", verdicts[item.job.key]
                delta.rejected += 1
                delta.rejected_by_reason[reason] += 1
                if item.rejected_before + 1 <= self.options.retry_rejected:
                    retry.append(item)
            else:
                status, reason = "accepted", None
                delta.accepted += 1
            delta.tokens_in += done.tokens_in or 0
            delta.tokens_out += done.tokens_out or 0
            rows.append(self._row(item, done, status, reason))
        s = self.summary
        totals = RunSummary(
            s.run_id, s.backend, s.annotator, s.requests, s.accepted + delta.accepted,
            s.rejected + delta.rejected, s.failed + delta.failed,
            s.rejected_by_reason + delta.rejected_by_reason, s.tokens_in + delta.tokens_in,
            s.tokens_out + delta.tokens_out, time.perf_counter() - self.t0,
        )
        self.store.write(rows, s.run_id, totals.counters(), self.options.lock_wait_s)
        # only this thread changes these counters; the dispatcher changes ``requests``
        s.accepted, s.rejected, s.failed = totals.accepted, totals.rejected, totals.failed
        s.rejected_by_reason = totals.rejected_by_reason
        s.tokens_in, s.tokens_out, s.wall_s = totals.tokens_in, totals.tokens_out, totals.wall_s
        if self.first_commit_s is None:
            self.first_commit_s = totals.wall_s
        if final:
            return []
        return [self.item(i.request, i.attempt + 1, i.rejected_before + 1) for i in retry]

    # -- one phase (the dispatcher) ------------------------------------------------------
    def run_phase(self, tasks: tuple[int, ...], limit: int | None, committer: _Committer) -> None:
        o = self.options
        pending = PendingRequests(
            self.store,
            tasks,
            o.retry_rejected,
            where=o.where,
            attempted_only=o.attempted_only,
            lock_wait_s=o.lock_wait_s,
        )
        total = pending.count()
        total = total if limit is None else min(total, limit)
        if not total:
            return
        label = "Task " + "/".join(map(str, tasks))
        self.reporter.step(f"{label}: {total:,} request(s) to caption with {self.backend.name}")
        size = max(1, min(o.batch_size, self.backend.max_batch))
        workers = o.in_flight(self.backend)
        feeder = _Feeder(self, pending, limit)
        ready: deque[_Item] = deque()
        fed_all = False
        in_flight: dict[Future, list[_Item]] = {}
        pool = ThreadPoolExecutor(workers, thread_name_prefix="caption")
        try:
            with self.reporter.bar(f"captions {label}", total=total) as bar:
                bar.note(self._counts())
                while True:
                    while not fed_all and len(ready) < size * workers:
                        idle = not (ready or in_flight)
                        chunk = feeder.get(timeout=0.1 if idle else 0)
                        if chunk is None:
                            break
                        if chunk is _Feeder._END:
                            fed_all = True
                            break
                        ready.extend(chunk)
                        self.summary.requests += len(chunk)
                    while ready and len(in_flight) < workers:
                        batch = [ready.popleft() for _ in range(min(size, len(ready)))]
                        future = pool.submit(self.backend.generate, [i.job for i in batch])
                        in_flight[future] = batch
                    if in_flight:
                        done, _ = wait(in_flight, timeout=0.1, return_when=FIRST_COMPLETED)
                        for future in done:
                            batch = in_flight.pop(future)
                            committer.add(list(zip(batch, self._results(future, batch),
                                                   strict=True)))
                            bar.advance(len(batch))
                    retries = committer.take_retries()
                    if fed_all and not (ready or in_flight or retries):
                        committer.drain()  # the last answers; their rejections may earn retries
                        retries = committer.take_retries()
                        if not retries:
                            bar.note(self._counts())
                            break
                    if retries:
                        total += len(retries)
                        bar.total(total)
                        ready.extend(sorted(retries, key=lambda i: i.job.prompt))
                    bar.note(self._counts())
        finally:
            feeder.close()
            pool.shutdown(wait=not in_flight, cancel_futures=True)

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

    def _counts(self) -> str:
        s, elapsed = self.summary, max(time.perf_counter() - self.t0, 1e-9)
        text = f"{s.accepted:,} accepted · {s.rejected:,} rejected · {s.failed:,} failed"
        return text + (f" · {s.tokens_out / elapsed:,.0f} tok/s" if s.tokens_out else "")

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
                    "where": o.where,
                }
            ),
            "sampling": json.dumps({**self.backend.sampling.to_dict(), **self.backend.decoding()}),
            "rules": json.dumps({r.name: r.kind for r in self.rules.rules}),  # the rule book
        }
        self.store.bootstrap()
        self.store.begin_run(record)
        committer = _Committer(self)
        status = "failed"
        try:
            for phase in ((1, 2), (3,)):
                tasks = tuple(t for t in phase if t in o.tasks)
                if tasks:
                    left = None if o.limit is None else max(o.limit - self.summary.requests, 0)
                    if left != 0:
                        self.run_phase(tasks, left, committer)
            status = "finished"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            try:
                error = committer.close()  # stores the answers already received
                if error is not None and status == "finished":
                    status = "failed"
                self.summary.wall_s = time.perf_counter() - self.t0
                with self.store.connect(o.lock_wait_s) as con:
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
        if error is not None:
            raise error
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
    backend = create_backend(options.backend, options.backend_options(int(settings["threads"])))
    try:
        annotator = backend.start()
        run = CaptionRun(Path(path), settings, options, backend, reporter)
        run.summary.annotator = annotator
        return run.run()
    finally:
        backend.close()


__all__ = ["CaptionError", "CaptionOptions", "RunSummary", "run_captions"]
