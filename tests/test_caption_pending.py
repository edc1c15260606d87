"""Pending requests read in bounded chunks: the same set as one big query would give, with
the right next attempt, narrowed by --where and --limit, one patch_id range at a time (the
view of Task 3 requests too). The attempts come from real caption runs against a scripted
loopback server."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import duckdb
import pytest
from _llm_servers import _JsonHandler, _Server, answer_for, chat_reply, prompt_patch

from rsteller_db.caption import CaptionOptions, run_captions
from rsteller_db.caption.pending import PendingRequests
from rsteller_db.caption.store import CaptionError, CaptionStore
from rsteller_db.settings import load_settings

# request number (1-based, among the world's requests without an injected name, in feature
# order) -> statuses of its attempts, in order
HISTORY = {
    1: ["accepted"],
    2: ["rejected"],
    3: ["rejected", "rejected"],
    4: ["failed"],
    5: ["rejected", "accepted"],
    6: ["failed", "rejected"],
    7: ["rejected", "failed"],
    8: ["rejected", "rejected", "failed"],
    **{i: ["accepted"] for i in range(20, 100)},  # a run of done requests spanning windows
}
REJECTED_TEXT = "Farmland."  # too few words: word_count_task12 rejects it


class _ScriptedHandler(_JsonHandler):
    """Answers the n-th prompt of a patch as ``script[patch][n - 1]`` says: a faithful
    caption, one the rules reject, or HTTP 500."""

    def do_POST(self):
        prompt = self.body()["messages"][0]["content"]
        state, patch = self.server.state, prompt_patch(prompt)
        with state.lock:
            state.hits[patch] += 1
            outcome = state.script[patch][state.hits[patch] - 1]
        if outcome == "failed":
            return self.reply(500, {"error": "scripted failure"})
        text = answer_for(prompt, state.payloads) if outcome == "accepted" else REJECTED_TEXT
        self.reply(200, chat_reply("loopback-model", text, prompt))


@pytest.fixture(scope="module")
def built(caption_world, tmp_path_factory, test_prompts):
    """The caption world's warehouse after caption runs that leave HISTORY's attempts:
    attempt k of the requests with r rejections before it, in one run with --retry-rejected r
    (so a rejection there is not asked again) and no retries (so a 500 is a failed attempt)."""
    world, numbered = caption_world, caption_world.clean()
    path = world.copy(tmp_path_factory.mktemp("pending"))
    runs: dict[tuple[int, int], list] = {}
    for i, statuses in HISTORY.items():
        for k in range(len(statuses)):
            key = (k, statuses[:k].count("rejected"))
            runs.setdefault(key, []).append(numbered[i - 1])
    with _Server(_ScriptedHandler) as server:
        server.payloads = world.payloads
        server.script = {numbered[i - 1].patch_id: s for i, s in HISTORY.items()}
        for (_, rejected), requests in sorted(runs.items()):
            run_captions(path, CaptionOptions(
                backend="openai", urls=(server.url,), tasks=(1, 2), retries=0,
                retry_rejected=rejected, where=world.where(requests), prompts_dir=test_prompts))
    with duckdb.connect(str(path), read_only=True) as con:
        stored = con.execute("select request_id, list(status order by attempt) from captions "
                             "group by request_id").fetchall()
    assert dict(stored) == {numbered[i - 1].request_id: s for i, s in HISTORY.items()}
    return path


@pytest.fixture
def store(built, tmp_path):
    path = tmp_path / "w.duckdb"
    shutil.copyfile(built, path)
    return CaptionStore(path, load_settings())


@pytest.fixture(scope="module")
def expected(caption_world):
    def pending(retry_rejected: int) -> dict[str, tuple[int, int]]:
        """request_id -> (next attempt, rejected attempts so far) of every pending request."""
        history = {caption_world.clean()[i - 1].request_id: s for i, s in HISTORY.items()}
        out = {}
        for request in caption_world.requests:
            statuses = history.get(request.request_id, [])
            rejected = statuses.count("rejected")
            if "accepted" in statuses:
                continue
            if statuses and statuses[-1] != "failed" and rejected > retry_rejected:
                continue
            out[request.request_id] = (len(statuses) + 1, rejected)
        return out

    return pending


@pytest.mark.parametrize("retry_rejected", [0, 1, 2])
def test_chunks_give_every_pending_request_once_in_order(store, expected, retry_rejected):
    pending = PendingRequests(store, (1, 2), retry_rejected)
    chunks = list(pending.chunks(window=28))
    got = [r for chunk in chunks for r in chunk]
    assert {r.request_id: (r.attempt, r.rejected_before) for r in got} == expected(retry_rejected)
    assert len(got) == len({r.request_id for r in got}) == pending.count()
    assert all(0 < len(chunk) <= 28 for chunk in chunks)
    assert got[0].payload["patch"]["patch_id"] == got[0].patch_id  # payloads come along


def test_where_and_limit_narrow_the_requests(store, expected):
    pending = PendingRequests(store, (1, 2), 0, where="patch_id % 3 = 0 and task = 2")
    got = sorted(r.patch_id for chunk in pending.chunks(window=16) for r in chunk)
    want = sorted(int(k.split("-")[0]) for k in expected(0) if k.endswith("-t2"))
    assert got == [i for i in want if i % 3 == 0] and len(got) > 5
    assert pending.count() == len(got)
    limited = [r for chunk in pending.chunks(window=16, limit=5) for r in chunk]
    assert len(limited) == 5 and {r.patch_id for r in limited} <= set(got)


def test_a_bad_where_names_the_option(store):
    pending = PendingRequests(store, (1, 2), 0, where="no_such_column = 1")
    with pytest.raises(CaptionError, match=r"--where 'no_such_column = 1' is not a condition"):
        pending.count()


def test_reads_leave_the_file_to_other_readers(store, caption_world, expected):
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
        # the reader has the file open
        assert reader.stdout.readline().strip() == str(len(caption_world.requests))
        pending = PendingRequests(store, (1, 2, 3), 0)
        got = [r for chunk in pending.chunks(window=50) for r in chunk]
        count = pending.count()
    finally:
        reader.stdin.close()
        reader.wait(timeout=30)
    accepted = sum("accepted" in statuses for statuses in HISTORY.values())
    assert len(got) == count == len(expected(0)) + accepted  # Task 3: one per accepted


def test_a_view_is_read_one_patch_range_at_a_time(store, caption_world, test_prompts):
    sources = [caption_world.clean()[i - 1].patch_id for i, statuses in HISTORY.items()
               if "accepted" in statuses]
    done = sources[0]  # its revision is asked (and answered) before the read
    run_captions(store.path, CaptionOptions(backend="template", tasks=(3,),
                                            where=f"patch_id = {done}", prompts_dir=test_prompts))
    pending = PendingRequests(store, (3,), 0)
    chunks = list(pending.chunks(window=8))
    got = [r for chunk in chunks for r in chunk]
    assert sorted(r.patch_id for r in got) == sorted(set(sources) - {done})
    assert pending.count() == len(got)
    assert all(r.request_id == f"{r.patch_id}-t3-1" and r.attempt == 1 for r in got)
    # each chunk is one range of patch ids, the ranges in order, none over the window
    spans = [(min(r.patch_id for r in c), max(r.patch_id for r in c)) for c in chunks]
    assert all(a[1] < b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert all(0 < len(c) <= 8 for c in chunks) and len(chunks) >= 5
    assert not list(store.path.parent.glob("caption-pending-*"))  # nothing spilled
