-- kind: view
-- grain: snapshot, acquired_on, osm_at
-- title: OSM time per image
-- part: Sources and licences
-- limit: top
-- The OSM time the captions of each image were written from (stg_osm__image_snapshots), by
-- acquisition date: every image of a date sees the same map time. With a full-history extract
-- that is the date plus osm_date_offset_days (or the end of the history, when it ends
-- earlier); with plain extracts it is the one snapshot they hold, whatever the image's date.
select
    s.snapshot,
    s.acquired_on,
    s.osm_at,
    s.osm_gap_days,
    count(distinct s.image_name) as images,
    count(distinct d.patch_id) as samples
from stg_osm__image_snapshots as s
left join dataset_samples as d using (image_name)
group by all
order by s.acquired_on nulls last, s.osm_at
