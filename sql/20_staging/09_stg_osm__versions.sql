-- kind: table
-- grain: kind, id, osm_from
-- The object versions the OSM times of stg_osm__snapshot_times need, from full-history
-- extracts (raw.osm_history): each visible version current at one of those times, with the
-- span of times it serves, osm_from <= t < osm_until (snapshot times; -infinity: from the
-- earliest, infinity: through the latest). A version is current from its valid_from until the
-- object's next version; an object deleted then, or not created yet, has no version then.
-- Objects of plain extracts ingested beside a history never change, unless the history holds
-- them too (then the history wins). Empty when no history was ingested: the staging reads
-- raw.osm_elements as it is.
with history_files as (
    -- 1 when the versions come from one file (no copies to choose between), else 2
    select if(min(source_id) = max(source_id), 1, 2) as n from raw.osm_history
),
versions as (
    select kind::VARCHAR as kind, id, version, visible, valid_from, valid_until, tags, refs,
        lat, lon, ref_roles, ref_types
    from raw.osm_history
    where (select n from history_files) <= 1
    union all
    -- a version several files hold: the latest file's copy, replaced at the earliest next
    -- version any file knows
    select kind::VARCHAR, id, version, arg_max(visible, source_id), arg_max(valid_from, source_id),
        nullif(min(coalesce(valid_until, 'infinity'::TIMESTAMP)), 'infinity'::TIMESTAMP),
        arg_max(tags, source_id), arg_max(refs, source_id), arg_max(lat, source_id),
        arg_max(lon, source_id), arg_max(ref_roles, source_id), arg_max(ref_types, source_id)
    from raw.osm_history
    where (select n from history_files) > 1
    group by kind, id, version
),
timeless as (
    -- plain extracts beside a history: the latest file's copy of objects the history lacks
    select kind::VARCHAR as kind, id, null::INTEGER as version, true as visible,
        '-infinity'::TIMESTAMP as valid_from, null::TIMESTAMP as valid_until,
        arg_max(tags, source_id) as tags, arg_max(refs, source_id) as refs,
        arg_max(lat, source_id) as lat, arg_max(lon, source_id) as lon,
        arg_max(ref_roles, source_id) as ref_roles, arg_max(ref_types, source_id) as ref_types
    from raw.osm_elements as e
    where exists (select 1 from raw.osm_history)
        and not exists (select 1 from raw.osm_history as h
                        where h.kind::VARCHAR = e.kind::VARCHAR and h.id = e.id)
    group by kind, id
),
current as (
    select * from versions where visible
    union all
    select * from timeless
),
starts as (
    -- the first OSM time at or after the version became current (none: it came later)
    select v.*, t.osm_at as first_at
    from current as v
    asof join stg_osm__snapshot_times as t on v.valid_from <= t.osm_at
),
spans as (
    -- the first OSM time at or after it was replaced (none: it serves the latest)
    select s.*, t.osm_at as replaced_at
    from starts as s
    asof left join stg_osm__snapshot_times as t on s.valid_until <= t.osm_at
)
select
    kind, id, version, tags, refs, lat, lon, ref_roles, ref_types,
    if(first_at = (select min(osm_at) from stg_osm__snapshot_times),
       '-infinity'::TIMESTAMP, first_at) as osm_from,
    coalesce(replaced_at, 'infinity'::TIMESTAMP) as osm_until
from spans
where replaced_at is null or first_at < replaced_at
