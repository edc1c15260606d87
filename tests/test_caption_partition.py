"""`caption --partition KEY`: the requests of one partition's patches, like `images fetch
--partition` and `export --partition`; with --where, both conditions hold."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from rsteller_db.cli import main
from rsteller_db.stages.partitions import patches_condition

EAST, WEST = "n41w075", "n41w076"


@pytest.fixture
def split_sample(sample_copy) -> Path:
    """The sample with its patches dealt into two partitions and no captions yet."""
    con = duckdb.connect(str(sample_copy))
    con.execute(f"UPDATE int_patches_gridded SET partition_key = "
                f"if(patch_id % 2 = 0, '{EAST}', '{WEST}')")
    con.execute("DELETE FROM captions")
    con.close()
    return sample_copy


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


def test_one_partition_is_captioned_and_no_other(split_sample):
    result = caption(split_sample, "--tasks", "1", "--partition", EAST)
    assert result.exit_code == 0, result.output
    requests, captioned = requests_and_captions(split_sample)
    east = {p for p, k in requests if k == EAST}
    assert 0 < len(east) < len(requests)
    assert captioned == east


def test_partition_and_where_both_hold(split_sample):
    result = caption(split_sample, "--tasks", "1", "--partition", EAST, "--partition", WEST,
                     "--where", "patch_id % 4 = 0")
    assert result.exit_code == 0, result.output
    requests, captioned = requests_and_captions(split_sample)
    assert captioned == {p for p, _ in requests if p % 4 == 0} and captioned


def test_a_key_with_no_patches_is_refused_before_any_work(split_sample):
    result = caption(split_sample, "--partition", "n41w077")
    assert result.exit_code == 2
    assert "no patch is in partition n41w077" in result.output
    assert f"{EAST}, {WEST}" in result.output
    assert requests_and_captions(split_sample)[1] == set()


@pytest.mark.parametrize("key", ["n41w075'; drop table captions; --", "41w075", "N41W075"])
def test_what_is_not_a_key_never_reaches_the_sql(split_sample, key):
    result = caption(split_sample, "--partition", key)
    assert result.exit_code == 2 and "a partition key is the south-west corner" in result.output
    with pytest.raises(ValueError):
        patches_condition([key])
