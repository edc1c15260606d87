-- kind: table
-- grain: patch_id
-- partition: patch_id
-- Background of each patch: the administrative areas and named places whose outline holds
-- the patch centre (smallest first), and the names of notable features in the view (named
-- areas by size, then named lines by length, then named points), as the map was at the
-- image's OSM time (stg_osm__image_snapshots).
with centres as (
    select p.patch_id, ST_Centroid(p.geom) as centre, s.osm_at
    from int_patches_gridded as p
    left join stg_osm__image_snapshots as s using (image_name)
),
admin as (
    select
        c.patch_id, b.name,
        coalesce(w.words, 'administrative area') as what,
        coalesce(try_cast(b.admin_level as integer), 99) as level
    from centres as c
    join stg_osm__boundaries as b on ST_Contains(b.geom, c.centre)
    left join descriptor_words as w
      on w.measure = 'admin_level' and w.code = b.admin_level::varchar
    where b.name is not null and coalesce(osm_valid_at(b.osm_from, b.osm_until, c.osm_at), false)
),
places as (
    select c.patch_id, e.tags['name'] as name, e.tags['place'] as what, 100 as level
    from centres as c
    join int_elements_validated as e on ST_Contains(e.geom, c.centre)
    where e.kind = 'area' and e.tags['place'] is not null and e.tags['name'] is not null
        and coalesce(osm_valid_at(e.osm_from, e.osm_until, c.osm_at), false)
),
background as (
    select
        patch_id,
        list({'name': regexp_replace(left(name, setting('tag_value_max_chars')::integer),
                                     '[[:cntrl:]]+', ' ', 'g'),
              'what': what} order by level desc, name) as places
    from (select distinct * from (from admin union all by name from places))
    group by patch_id
),
named as (
    select patch_id, tags['name'] as name, 1 as grp, -area_m2 as size_rank
    from int_patch_areas_described where tags['name'] is not null
    union all
    select patch_id, tags['name'], 2, -length_m
    from int_patch_lines_described where tags['name'] is not null
    union all
    select patch_id, name, 3, 0
    from int_patch_points_described where name is not null
),
features as (
    select
        patch_id,
        list(regexp_replace(left(name, setting('tag_value_max_chars')::integer),
                            '[[:cntrl:]]+', ' ', 'g') order by grp, size_rank, name)[1:8] as features
    from (
        select patch_id, name, min(grp) as grp, min(size_rank) as size_rank
        from named group by patch_id, name
    )
    group by patch_id
)
select
    c.patch_id,
    coalesce(b.places, []) as places,
    coalesce(f.features, []) as features
from centres as c
left join background as b using (patch_id)
left join features as f using (patch_id)
