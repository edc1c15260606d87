-- kind: table
-- grain: element_id, osm_from (element_id = osm_id * 10 + 1 node, 2 way, 3 relation)
-- The OSM elements a caption can describe, in EPSG:4326:
--   tagged nodes -> points;
--   ways -> lines, or polygons when closed and a tag matches osm_area_rules (area=no wins);
--   multipolygon relations -> (multi)polygons from stg_osm__multipolygons.
-- Tags pass the drop policy of osm_tag_drop_rules (LIKE patterns; a 'keep' row overrides
-- the 'drop' rows) and a relation's structural `type` tag goes; elements left without tags
-- are removed. Administrative boundaries (a `boundary` or `admin_level` tag) are kept apart
-- in stg_osm__boundaries. Areas whose ways miss nodes are left out (stg_osm__problems);
-- lines missing nodes keep the nodes the extract holds.
-- One row per element state: with a full-history extract an element may have several, each
-- valid for OSM times osm_from <= t < osm_until (stg_osm__versions, stg_osm__ways,
-- stg_osm__multipolygons); a plain extract's elements have one, -infinity .. infinity.
with tagged_nodes as (
    select id, tags, lon, lat, '-infinity'::TIMESTAMP as osm_from,
        'infinity'::TIMESTAMP as osm_until
    from raw.osm_elements
    where kind = 'node' and cardinality(tags) > 0
        and (select osm_input from stg_osm__inputs) = 'one extract'
    union all
    select id, arg_max(tags, source_id), arg_max(lon, source_id), arg_max(lat, source_id),
        '-infinity'::TIMESTAMP, 'infinity'::TIMESTAMP
    from raw.osm_elements
    where kind = 'node' and cardinality(tags) > 0
        and (select osm_input from stg_osm__inputs) = 'several extracts'
    group by id
    union all
    select id, tags, lon, lat, osm_from, osm_until
    from stg_osm__versions
    where kind = 'node' and cardinality(tags) > 0 and lat is not null
),
area_rules as (
    select key, policy, list(value) as vals
    from osm_area_rules
    group by key, policy
),
closed_way_tags as (
    select osm_id, osm_from, unnest(map_keys(tags)) as key, unnest(map_values(tags)) as value
    from stg_osm__ways
    where is_closed and cardinality(tags) > 0
),
area_ways as (
    select distinct t.osm_id, t.osm_from
    from closed_way_tags as t
    join area_rules as r on r.key = t.key
    where (r.policy = 'include' and list_contains(r.vals, t.value))
        or (r.policy = 'exclude' and not list_contains(r.vals, t.value))
),
ways as (
    select
        w.element_id,
        w.osm_id,
        w.tags,
        w.missing_node_count,
        w.geom,
        a.osm_id is not null and coalesce(w.tags['area'], '') <> 'no' as is_area,
        w.osm_from,
        w.osm_until
    from stg_osm__ways as w
    left join area_ways as a on a.osm_id = w.osm_id and a.osm_from = w.osm_from
    where cardinality(w.tags) > 0 and w.geom is not null
),
features as (
    select id * 10 + 1 as element_id, 'node' as osm_type, id as osm_id, 'point' as kind, tags,
        ST_Point(lon, lat) as geom, osm_from, osm_until
    from tagged_nodes
    union all
    select element_id, 'way', osm_id, if(is_area, 'area', 'line'), tags,
        if(is_area, ST_MakePolygon(geom), geom), osm_from, osm_until
    from ways
    where not (is_area and missing_node_count > 0)
    union all
    select element_id, 'relation', osm_id, 'area',
        map_from_entries(list_filter(map_entries(tags), e -> e.key <> 'type')), geom,
        osm_from, osm_until
    from stg_osm__multipolygons
    where geom is not null
),
raw_keys as (
    select id * 10 + (case kind when 'node' then 1 when 'way' then 2 else 3 end) as element_id,
        unnest(map_keys(tags)) as key
    from raw.osm_elements
    where cardinality(tags) > 0
    union all
    select id * 10 + (case kind when 'node' then 1 when 'way' then 2 else 3 end),
        unnest(map_keys(tags))
    from stg_osm__versions
    where cardinality(tags) > 0
),
dropped_keys as (
    -- each distinct tag key is matched against the LIKE patterns once, not once per tag
    select k.key
    from (select distinct key from raw_keys) as k
    where exists (
            select 1 from osm_tag_drop_rules as r
            where r.action = 'drop' and k.key like r.key_pattern)
        and not exists (
            select 1 from osm_tag_drop_rules as r
            where r.action = 'keep' and k.key like r.key_pattern)
),
affected as (
    -- elements with a tag to drop: only their maps are rebuilt
    select distinct element_id
    from raw_keys
    semi join dropped_keys on dropped_keys.key = raw_keys.key
),
candidates as (
    select f.*, a.element_id is not null as is_affected,
        coalesce((select list(key) from dropped_keys), []) as dropped
    from features as f
    left join affected as a on a.element_id = f.element_id
    where cardinality(f.tags) > 0
        and not (map_contains(f.tags, 'boundary') or map_contains(f.tags, 'admin_level'))
)
select
    element_id, osm_type, osm_id, kind,
    case
        when is_affected then map_from_entries(list_filter(map_entries(tags),
            e -> not list_contains(dropped, e.key)))
        else tags
    end as tags,
    geom,
    osm_from,
    osm_until
from candidates
where not is_affected or len(list_filter(map_keys(tags), k -> not list_contains(dropped, k))) > 0
