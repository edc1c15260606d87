-- kind: table
-- grain: element_id (one OSM way, tagged or not: untagged ways are multipolygon members)
-- slices: raw.osm_elements
-- Every way as a linestring in EPSG:4326, built from the member nodes the extracts hold.
-- Nodes missing from the extract (a way cut at its border) are skipped and counted in
-- missing_node_count; a way with fewer than two located nodes gets no geometry.
-- When several PBFs hold the same object, the copy from the latest source wins.
-- Built in slices of ways (hash(id) % slice_count()): the per-way lists of node coordinates
-- are aggregate states DuckDB keeps in memory, so the runner sizes the slices to memory_limit
-- (docs/scale.md); each slice joins its way-node references to the nodes.
with osm_files as (
    -- 1 when the objects come from one extract (no copies to choose between), else 2
    select if(min(source_id) = max(source_id), 1, 2) as n from raw.osm_elements
),
nodes as (
    -- one extract: no duplicates to remove, skip the grouping
    select id, lon, lat
    from raw.osm_elements
    where kind = 'node' and (select n from osm_files) <= 1
    union all
    select id, arg_max(lon, source_id), arg_max(lat, source_id)
    from raw.osm_elements
    where kind = 'node' and (select n from osm_files) > 1
    group by id
),
ways as (
    select id, refs, tags
    from raw.osm_elements
    where kind = 'way' and (select n from osm_files) <= 1
        and hash(id) % slice_count() = slice_index()
    union all
    select id, arg_max(refs, source_id), arg_max(tags, source_id)
    from raw.osm_elements
    where kind = 'way' and (select n from osm_files) > 1
        and hash(id) % slice_count() = slice_index()
    group by id
),
way_nodes as (
    select id as way_id, unnest(refs) as node_id, generate_subscripts(refs, 1) as seq
    from ways
),
located as (
    -- list() without ORDER BY and a list_sort afterwards: much cheaper than an ordered
    -- aggregate, and seq comes first in the struct so the sort restores the way's order.
    -- Its states cannot spill (DuckDB 1.5): about 2 GB for 12 M way-node references, hence
    -- the slices
    select
        wn.way_id,
        list({'seq': wn.seq, 'x': n.lon, 'y': n.lat}) filter (where n.id is not null) as pts,
        count(*) filter (where n.id is null) as missing
    from way_nodes as wn
    left join nodes as n on n.id = wn.node_id
    group by wn.way_id
)
select
    w.id * 10 + 2 as element_id,
    w.id as osm_id,
    w.tags,
    len(w.refs) as node_count,
    coalesce(l.missing, 0)::INTEGER as missing_node_count,
    w.refs[1] as first_node_id,
    w.refs[-1] as last_node_id,
    len(w.refs) >= 4 and w.refs[1] = w.refs[-1] as is_closed,
    case
        -- unnamed (x, y) structs cast straight to LINESTRING_2D: no point objects made
        when len(l.pts) >= 2
            then list_transform(list_sort(l.pts), p -> row(p.x, p.y))::LINESTRING_2D::GEOMETRY
    end as geom
from ways as w
left join located as l on l.way_id = w.id
