"""`caption --partition KEY`: the requests of one partition's patches, like `images fetch
--partition` and `export --partition`; with --where, both conditions hold. The caption world's
two images are two partitions of the real build (partition_deg 0.02)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from rsteller_db.cli import main
from rsteller_db.stages.partitions import patches_condition


@pytest.fixture
def keys(caption_world) -> tuple[str, str]:
    """The world's two partition keys, in order: (west, east)."""
    west, east = sorted(caption_world.partitions, reverse=True)  # w075.24 is west of w075.20
    assert west.endswith("w075.24") and east.endswith("w075.20")
    return west, east


def caption(warehouse: Path, *args: str):
    return CliRunner().invoke(main, ["-q", "-w", str(warehouse), "caption", "--backend",
                                     "template", *args])


def requests_and_captions(warehouse: Path, task: int = 1) -> tuple[set, set]:
    con = duckdb.connect(str(warehouse), read_only=True)
    requests = {(p, k) for p, k in con.execute(
        "SELECT r.patch_id, g.partition_key FROM caption_requests r "
        "JOIN int_patches_gridded g USING (patch_id) WHERE r.task = ?", [task]).fetchall()}
    captioned = {p for (p,) in con.execute(
        "SELECT DISTINCT patch_id FROM captions WHERE task = ?", [task]).fetchall()}
    con.close()
    return requests, captioned


def test_one_partition_is_captioned_and_no_other(caption_copy, keys):
    result = caption(caption_copy, "--tasks", "1", "--partition", keys[1])
    assert result.exit_code == 0, result.output
    requests, captioned = requests_and_captions(caption_copy)
    east = {p for p, k in requests if k == keys[1]}
    assert 0 < len(east) < len(requests)
    assert captioned == east


def test_partition_and_where_both_hold(caption_copy, keys):
    result = caption(caption_copy, "--tasks", "1", "--partition", keys[1], "--partition",
                     keys[0], "--where", "patch_id % 4 = 0")
    assert result.exit_code == 0, result.output
    requests, captioned = requests_and_captions(caption_copy)
    assert captioned == {p for p, _ in requests if p % 4 == 0} and captioned


def test_a_key_with_no_patches_is_refused_before_any_work(caption_copy, keys):
    result = caption(caption_copy, "--partition", "n41w077")
    assert result.exit_code == 2
    assert "no patch is in partition n41w077" in result.output
    assert f"{keys[1]}, {keys[0]}" in result.output
    assert requests_and_captions(caption_copy)[1] == set()


@pytest.mark.parametrize("key", ["n41w075'; drop table captions; --", "41w075", "N41W075"])
def test_what_is_not_a_key_never_reaches_the_sql(caption_copy, key):
    result = caption(caption_copy, "--partition", key)
    assert result.exit_code == 2 and "a partition key is the south-west corner" in result.output
    with pytest.raises(ValueError):
        patches_condition([key])
