"""Reading shards back exactly as RSTeller's users do (the pipeline quoted in issue 7)."""

from __future__ import annotations

import random
from collections.abc import Iterator

import webdataset as wds


def rsteller_samples(shards: list[str]) -> Iterator[tuple]:
    """(PIL image, one caption text) per sample, through DataPipeline and WebLoader."""
    pipeline = wds.DataPipeline(
        wds.SimpleShardList(shards),
        wds.tarfile_to_samples(),
        wds.decode("pil"),
        wds.rename(image="jpg", text="json"),
        wds.map_dict(text=lambda x: random.choice(x["annotations"])["text"]),
        wds.to_tuple("image", "text"),
    )
    yield from wds.WebLoader(pipeline, batch_size=None)
