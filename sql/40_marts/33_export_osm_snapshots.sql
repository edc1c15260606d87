-- kind: view
-- grain: image_name
-- The OSM time of each image of the dataset, for the export's manifest: the images of
-- dataset_samples with the map time their captions were written from (stg_osm__image_snapshots,
-- docs/osm.md), its gap to the acquisition date in days, and the image's samples; partition_key
-- lets an export of some partitions list only theirs.
select
    d.image_name,
    g.partition_key,
    s.snapshot,
    s.acquired_on,
    s.osm_target_at,
    s.osm_at,
    s.osm_gap_days,
    count(*) as samples
from dataset_samples as d
join int_patches_gridded as g using (patch_id)
left join stg_osm__image_snapshots as s on s.image_name = d.image_name
group by all
order by d.image_name
