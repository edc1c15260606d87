"""Writing small ``.osm.pbf`` files from plain Python values, with pyosmium.

Used by the tests (hand-made files with known answers) and by ``bench/osm_ingest.py``
(a large generated file). Objects must come in PBF order: nodes, then ways, then
relations, each by ascending id.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

NodeSpec = tuple[int, float, float, dict[str, str]]  # id, lon, lat, tags
WaySpec = tuple[int, list[int], dict[str, str]]  # id, node refs, tags
MemberSpec = tuple[str, int, str]  # type ("n"/"w"/"r"), ref, role
RelationSpec = tuple[int, list[MemberSpec], dict[str, str]]  # id, members, tags


def write_pbf(path: str | os.PathLike, nodes: Iterable[NodeSpec] = (),
              ways: Iterable[WaySpec] = (), relations: Iterable[RelationSpec] = (), *,
              replication_timestamp: datetime | None = None,
              bbox: tuple[float, float, float, float] | None = None) -> Path:
    """Write the objects to ``path`` (overwritten) and return the path."""
    import osmium
    from osmium.osm.mutable import Node, Relation, Way

    path = Path(path)
    header = osmium.io.Header()
    header.set("generator", "rsteller-db tests")
    if replication_timestamp is not None:
        header.set("osmosis_replication_timestamp",
                   replication_timestamp.strftime("%Y-%m-%dT%H:%M:%SZ"))
    if bbox is not None:
        header.add_box(osmium.osm.Box(osmium.osm.Location(bbox[0], bbox[1]),
                                      osmium.osm.Location(bbox[2], bbox[3])))
    with osmium.SimpleWriter(str(path), header=header, overwrite=True) as writer:
        for node_id, lon, lat, tags in nodes:
            writer.add_node(Node(id=node_id, location=(lon, lat), tags=tags, version=1))
        for way_id, refs, tags in ways:
            writer.add_way(Way(id=way_id, nodes=refs, tags=tags, version=1))
        for rel_id, members, tags in relations:
            writer.add_relation(Relation(id=rel_id, members=members, tags=tags, version=1))
    return path
