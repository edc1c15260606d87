"""Executors: where partition builds run. One class per back end, in a registry.

- ``local``: one partition after another in this process, each merged as soon as it is built,
  so memory holds one partition at a time (spilling to the temp directory beyond the limit);
- ``ray``: every partition a Ray task (``ray.init()`` joins the cluster named by
  ``RAY_ADDRESS``, or starts one on this machine). Workers open the warehouse read-only and
  write their partition's DuckDB file beside it, so the warehouse folder must be on storage
  every node mounts; the coordinator releases its write lock while they run, then merges the
  files in partition order. The bytes do not depend on the executor.
"""

from __future__ import annotations

import os
from typing import ClassVar

import duckdb

from ..errors import StageError
from ..warehouse import Warehouse, spatial_connect
from .partitions import PartitionJob, build_partition, partition_file

PART = "_partition"


def _quoted(path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _home(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute("SELECT current_database()").fetchone()[0]


def _fresh(path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    for p in (path, path.with_name(path.name + ".wal")):
        p.unlink(missing_ok=True)


def _merge_file(wh: Warehouse, job: PartitionJob, outcome, path, merge) -> None:
    home = _home(wh.con)
    wh.con.execute(f"ATTACH {_quoted(path)} AS {PART} (READ_ONLY)")
    try:
        merge(job, outcome, PART, home)
    finally:
        wh.con.execute(f"DETACH {PART}")
        _fresh(path)


class Executor:
    name: ClassVar[str]

    def run(self, wh: Warehouse, jobs: list[PartitionJob], merge, run_audits) -> None:
        raise NotImplementedError


EXECUTORS: dict[str, type[Executor]] = {}


def register(cls: type[Executor]) -> type[Executor]:
    EXECUTORS[cls.name] = cls
    return cls


def get_executor(name: str) -> Executor:
    try:
        return EXECUTORS[name]()
    except KeyError:
        raise StageError(
            f"unknown executor {name!r}: use --executor {' | '.join(sorted(EXECUTORS))}"
        ) from None


@register
class LocalExecutor(Executor):
    """Partitions one after another in this process. Each is built in an in-memory database
    attached beside the warehouse (DuckDB spills it to the temp directory when it outgrows
    the memory limit), merged, and dropped: its rows are written to disk once, by the merge."""

    name = "local"

    def run(self, wh, jobs, merge, run_audits) -> None:
        home = _home(wh.con)
        for job in jobs:
            wh.con.execute(f"ATTACH ':memory:' AS {PART}")
            try:
                wh.con.execute(f"USE {PART}")
                try:
                    outcome = build_partition(wh.con, job, f'"{home}"', run_audits)
                finally:
                    wh.con.execute(f'USE "{home}"')
                merge(job, outcome, PART, home)
            finally:
                wh.con.execute(f"DETACH {PART}")


def ray_build_partition(warehouse: str, job: PartitionJob, path: str, config: dict):
    """A Ray task: build one partition into ``path``, reading ``warehouse`` read-only."""
    from .runner import run_audits

    con = spatial_connect(path, config=config)
    try:
        con.execute(f"ATTACH {_quoted(warehouse)} AS _warehouse (READ_ONLY)")
        outcome = build_partition(con, job, "_warehouse", run_audits)
        con.execute("DETACH _warehouse")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return outcome


@register
class RayExecutor(Executor):
    name = "ray"

    def run(self, wh, jobs, merge, run_audits) -> None:
        try:
            import ray
        except ImportError:
            raise StageError("--executor ray needs Ray: pip install 'rsteller-db[ray]'") from None
        if not ray.is_initialized():
            ray.init(address=os.environ.get("RAY_ADDRESS"), log_to_driver=False)
        config = wh.engine_config()
        config["threads"] = str(wh.settings["threads"] or 1)
        task = ray.remote(num_cpus=1, max_retries=0)(ray_build_partition)
        paths = {}
        for job in jobs:
            paths[job.partition.key] = partition_file(wh.data_dir, job.partition.key)
            _fresh(paths[job.partition.key])
        with wh.released():
            refs = [task.remote(str(wh.path.resolve()), job, str(paths[job.partition.key]),
                                config) for job in jobs]
            try:
                outcomes = ray.get(refs)
            except ray.exceptions.RayTaskError as exc:
                for path in paths.values():
                    _fresh(path)
                cause = exc.cause if isinstance(exc.cause, Exception) else exc
                if isinstance(cause, StageError):
                    raise cause from None
                raise StageError(f"a partition build failed on Ray: {cause}") from None
        for job, outcome in zip(jobs, outcomes, strict=True):
            _merge_file(wh, job, outcome, paths[job.partition.key], merge)
