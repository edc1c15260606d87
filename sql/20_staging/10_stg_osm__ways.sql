-- kind: table
-- grain: element_id, osm_from (one state of an OSM way, tagged or not: untagged ways are
--        multipolygon members)
-- slices: raw.osm_elements, stg_osm__versions
-- Every way as a linestring in EPSG:4326, built from the member nodes the extracts hold.
-- Nodes missing from the extract (a way cut at its border) are skipped and counted in
-- missing_node_count; a way with fewer than two located nodes gets no geometry.
-- When several PBFs hold the same object, the copy from the latest source wins.
-- With a full-history extract the ways come from stg_osm__versions, one row per state: a way
-- version with its nodes as they stood, valid for OSM times osm_from <= t < osm_until. A state
-- ends where a version of one of its nodes begins or ends while the way version is current (a
-- node moved, deleted or not yet created: then it counts as missing). A plain extract's ways
-- have one state, -infinity .. infinity.
-- Built in slices of ways (hash(id) % slice_count()): the per-way lists of node coordinates
-- are aggregate states DuckDB keeps in memory, so the runner sizes the slices to memory_limit
-- (docs/scale.md); each slice joins its way-node references to the nodes.
with nodes as (
    -- one extract: no duplicates to remove, skip the grouping
    select id, lon, lat
    from raw.osm_elements
    where kind = 'node'
        and (select osm_input from stg_osm__inputs) = 'one extract'
    union all
    select id, arg_max(lon, source_id), arg_max(lat, source_id)
    from raw.osm_elements
    where kind = 'node'
        and (select osm_input from stg_osm__inputs) = 'several extracts'
    group by id
),
ways as (
    select id, refs, tags
    from raw.osm_elements
    where kind = 'way'
        and (select osm_input from stg_osm__inputs) = 'one extract'
        and hash(id) % slice_count() = slice_index()
    union all
    select id, arg_max(refs, source_id), arg_max(tags, source_id)
    from raw.osm_elements
    where kind = 'way'
        and (select osm_input from stg_osm__inputs) = 'several extracts'
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
),
history_ways as (
    select id, refs, tags, osm_from, osm_until
    from stg_osm__versions
    where kind = 'way' and hash(id) % slice_count() = slice_index()
),
history_nodes as (
    select id, lon, lat, osm_from, osm_until
    from stg_osm__versions
    where kind = 'node' and lat is not null
),
history_way_nodes as (
    select id as way_id, osm_from as way_from, osm_until as way_until,
        unnest(refs) as node_id, generate_subscripts(refs, 1) as seq
    from history_ways
),
history_located as (
    -- every version of each node that is current while the way version is, with its span
    select
        wn.way_id, wn.way_from, any_value(wn.way_until) as way_until,
        coalesce(list({'seq': wn.seq, 'x': n.lon, 'y': n.lat,
                       'osm_from': n.osm_from, 'osm_until': n.osm_until})
                 filter (where n.id is not null), []) as pts
    from history_way_nodes as wn
    left join history_nodes as n
      on n.id = wn.node_id and n.osm_from < wn.way_until and wn.way_from < n.osm_until
    group by wn.way_id, wn.way_from
),
history_states as (
    -- the way version's states: cut where a node version begins or ends within it
    select way_id, way_from, pts,
        unnest(list_concat([way_from], cuts)) as state_from,
        unnest(list_concat(cuts, [way_until])) as state_until
    from (
        select *, list_sort(list_distinct(list_filter(
                list_concat(list_transform(pts, p -> p.osm_from),
                            list_transform(pts, p -> p.osm_until)),
                t -> t > way_from and t < way_until))) as cuts
        from history_located
    )
),
states as (
    select w.id, w.refs, w.tags, '-infinity'::TIMESTAMP as osm_from,
        'infinity'::TIMESTAMP as osm_until, l.pts, coalesce(l.missing, 0) as missing
    from ways as w
    left join located as l on l.way_id = w.id
    union all
    select w.id, w.refs, w.tags, s.state_from, s.state_until, s.pts,
        len(w.refs) - len(s.pts) as missing
    from history_ways as w
    join (
        select way_id, way_from, state_from, state_until,
            list_transform(list_filter(pts, p -> p.osm_from <= state_from
                                                 and state_from < p.osm_until),
                           p -> {'seq': p.seq, 'x': p.x, 'y': p.y}) as pts
        from history_states
    ) as s on s.way_id = w.id and s.way_from = w.osm_from
)
select
    s.id * 10 + 2 as element_id,
    s.id as osm_id,
    s.tags,
    len(s.refs) as node_count,
    s.missing::INTEGER as missing_node_count,
    s.refs[1] as first_node_id,
    s.refs[-1] as last_node_id,
    len(s.refs) >= 4 and s.refs[1] = s.refs[-1] as is_closed,
    case
        -- unnamed (x, y) structs cast straight to LINESTRING_2D: no point objects made
        when len(s.pts) >= 2
            then list_transform(list_sort(s.pts), p -> row(p.x, p.y))::LINESTRING_2D::GEOMETRY
    end as geom,
    s.osm_from,
    s.osm_until
from states as s
