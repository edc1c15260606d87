"""Pending requests read in bounded chunks: the same set as one big query would give, with
the right next attempt, narrowed by --where and --limit; tables by row id, views through a
spill file."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import duckdb
import pytest
from _caption_data import make_warehouse

from rsteller_db.caption.pending import PendingRequests
from rsteller_db.caption.store import CaptionError, CaptionStore
from rsteller_db.settings import load_settings

N = 60
# request number -> statuses of its stored attempts, in order
HISTORY = {
    1: ["accepted"],
    2: ["rejected"],
    3: ["rejected", "rejected"],
    4: ["failed"],
    5: ["rejected", "accepted"],
    6: ["failed", "rejected"],
    7: ["rejected", "failed"],
    8: ["rejected", "rejected", "failed"],
    **{i: ["accepted"] for i in range(20, 40)},  # a run of done requests spanning windows
}


def _request_id(i: int) -> str:
    return f"{i}-t{1 if i % 2 else 2}"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    path = make_warehouse(tmp_path_factory.mktemp("pending") / "w.duckdb", N)
    with duckdb.connect(str(path)) as con:
        for i, statuses in HISTORY.items():
            for attempt, status in enumerate(statuses, start=1):
                con.execute(
                    "INSERT INTO captions (caption_id, request_id, patch_id, task, attempt, text, "
                    "annotator, backend, prompt_name, prompt_hash, sampling, status, run_id) "
                    "VALUES (?, ?, ?, ?, ?, 'x', 'a', 'template', 'p', 'h', '{}', ?, 'r')",
                    [f"{_request_id(i)}-a{attempt}", _request_id(i), i, 1 if i % 2 else 2,
                     attempt, status],
                )
    return path


@pytest.fixture
def store(built, tmp_path):
    path = tmp_path / "w.duckdb"
    shutil.copyfile(built, path)
    return CaptionStore(path, load_settings())


def _expected(retry_rejected: int) -> dict[str, tuple[int, int]]:
    """request_id -> (next attempt, rejected attempts so far) of every pending request."""
    out = {}
    for i in range(1, N + 1):
        statuses = HISTORY.get(i, [])
        rejected = statuses.count("rejected")
        if "accepted" in statuses:
            continue
        if statuses and statuses[-1] != "failed" and rejected > retry_rejected:
            continue
        out[_request_id(i)] = (len(statuses) + 1, rejected)
    return out


@pytest.mark.parametrize("retry_rejected", [0, 1, 2])
def test_chunks_give_every_pending_request_once_in_order(store, retry_rejected):
    pending = PendingRequests(store, (1, 2), retry_rejected)
    chunks = list(pending.chunks(window=7))
    got = [r for chunk in chunks for r in chunk]
    assert {r.request_id: (r.attempt, r.rejected_before) for r in got} == _expected(retry_rejected)
    assert len(got) == len({r.request_id for r in got}) == pending.count()
    assert all(0 < len(chunk) <= 7 for chunk in chunks)
    assert got[0].payload["patch"]["patch_id"] == got[0].patch_id  # payloads come along


def test_where_and_limit_narrow_the_requests(store):
    pending = PendingRequests(store, (1, 2), 0, where="patch_id % 3 = 0 and task = 2")
    got = sorted(r.patch_id for chunk in pending.chunks(window=4) for r in chunk)
    expected = [int(k.split("-")[0]) for k in _expected(0)]
    assert got == [i for i in expected if i % 6 == 0]
    assert pending.count() == len(got)
    limited = [r for chunk in pending.chunks(window=4, limit=5) for r in chunk]
    assert len(limited) == 5 and {r.patch_id for r in limited} <= set(got)


def test_a_bad_where_names_the_option(store):
    pending = PendingRequests(store, (1, 2), 0, where="no_such_column = 1")
    with pytest.raises(CaptionError, match=r"--where 'no_such_column = 1' is not a condition"):
        pending.count()


def test_reads_leave_the_file_to_other_readers(store):
    """A chunk read opens the file read-only: another process reading it does not stop it."""
    reader = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, sys
            con = duckdb.connect({str(store.path)!r}, read_only=True)
            print(con.execute("select count(*) from caption_requests").fetchone()[0], flush=True)
            sys.stdin.read()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert reader.stdout.readline().strip() == str(N)  # the reader has the file open
        pending = PendingRequests(store, (1, 2, 3), 0)
        got = [r for chunk in pending.chunks(window=50) for r in chunk]
        count = pending.count()
    finally:
        reader.stdin.close()
        reader.wait(timeout=30)
    accepted = sum("accepted" in statuses for statuses in HISTORY.values())
    assert len(got) == count == len(_expected(0)) + accepted  # Task 3: one per accepted


def test_a_view_is_read_from_a_spill_file_that_goes_away(store):
    pending = PendingRequests(store, (3,), 0)
    chunks = list(pending.chunks(window=8))
    got = [r for chunk in chunks for r in chunk]
    assert sorted(r.patch_id for r in got) == sorted(
        i for i, statuses in HISTORY.items() if "accepted" in statuses
    )
    assert all(r.request_id == f"{r.patch_id}-t3-1" and r.attempt == 1 for r in got)
    assert all(0 < len(c) <= 8 for c in chunks) and len(chunks) >= 3
    assert not list(store.path.parent.glob("caption-pending-*"))
