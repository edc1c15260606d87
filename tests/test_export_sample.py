"""The bundled sample, end to end: the shared sample warehouse (sample -> ingest -> build ->
caption -> images, conftest.py) exported, and read back with exactly the webdataset pipeline
RSTeller's users run."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
from _wds_read import rsteller_samples
from click.testing import CliRunner

from rsteller_db.cli import main


@pytest.fixture(scope="module")
def sample_export(sample_warehouse, tmp_path_factory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("sample_export") / "out"
    result = CliRunner().invoke(main, ["-q", "--warehouse", str(sample_warehouse), "export",
                                       "--format", "wds", "--out", str(out), "--shard-size", "8"])
    assert result.exit_code == 0, result.output
    return sample_warehouse, out


def test_sample_reads_back_through_the_rsteller_pipeline(sample_export):
    warehouse, out = sample_export
    shards = sorted(str(p) for p in out.glob("train-*.tar"))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["samples"] > 0 and len(shards) == len(manifest["shards"])
    count = 0
    for image, text in rsteller_samples(shards):
        assert image.size == (448, 448) and image.mode == "RGB"
        assert isinstance(text, str) and text.strip()
        count += 1
    assert count == manifest["samples"]


def test_sample_documents_hold_one_task12_caption_and_its_revisions(sample_export):
    _, out = sample_export
    for shard in sorted(out.glob("train-*.tar")):
        with tarfile.open(shard) as tar:
            for member in tar:
                if member.name.endswith(".json"):
                    doc = json.loads(tar.extractfile(member).read())
                    tasks = [note["task"] for note in doc["annotations"]]
                    assert tasks[0] in (1, 2) and set(tasks[1:]) <= {3}
                    assert member.name == f"{doc['metadata']['patch_id']}.json"


def test_sample_export_verifies(sample_export):
    _, out = sample_export
    result = CliRunner().invoke(main, ["-q", "export", "verify", str(out)])
    assert result.exit_code == 0, result.output
