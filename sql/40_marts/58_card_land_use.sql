-- kind: view
-- grain: land_use
-- title: Patches by dominant land use
-- part: Content
-- plot: coverage_map.png
-- limit: top
-- A dataset patch's dominant land use is the landuse (else natural, else leisure) class of
-- the described OSM areas covering the largest share of it (int_patch_areas_described: areas
-- clipped to the patch and measured in the image's UTM; shares summed per class, ties broken
-- by the class name); '(none)' when no such area is described.
with classes as (
    select
        patch_id,
        coalesce('landuse=' || tags['landuse'], 'natural=' || tags['natural'],
                 'leisure=' || tags['leisure']) as land_use,
        area_norm
    from int_patch_areas_described
    where coalesce(tags['landuse'], tags['natural'], tags['leisure']) is not null
),
shares as (
    select patch_id, land_use, sum(area_norm) as share
    from classes
    group by all
),
dominant as (
    select patch_id, first(land_use order by share desc, land_use) as land_use
    from shares
    group by patch_id
)
select
    coalesce(d.land_use, '(none)') as land_use,
    count(*) as patches,
    round(100.0 * count(*) / sum(count(*)) over (), 1) as share_pct
from dataset_samples as s
left join dominant as d using (patch_id)
group by all
order by patches desc, land_use
