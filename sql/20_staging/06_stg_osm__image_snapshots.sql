-- kind: table
-- grain: image_name
-- scope: image_name
-- The OSM time each image is described from (docs/osm.md). With a full-history extract
-- ingested (raw.osm_history holds rows), an image sees the map as of its acquisition date plus
-- osm_date_offset_days (RSTeller's rule: 30 days), at 00:00 UTC; when the history ends before
-- that (its header's replication timestamp, else its last edit), the map as the history ends,
-- the newest it holds, and so does an image without a date. With plain extracts only, every
-- image sees the one snapshot they hold: their latest replication timestamp (NULL when no
-- header carries one).
--   snapshot       'per image' (history) | 'one snapshot' (plain extracts)
--   osm_target_at  acquired_on + osm_date_offset_days (history only)
--   osm_at         the OSM time the image's patches are described from
--   osm_gap_days   osm_at - acquired_on in days (negative: the map is older than the photo)
with history as (
    select count(*) > 0 as present, max(valid_from) as last_edit from raw.osm_history
),
stamps as (
    select
        max(snapshot_at) filter (where details ->> 'history' = 'true') as history_stamp,
        max(snapshot_at) as latest_stamp
    from _meta.sources
    where kind = 'osm'
),
targets as (
    select
        i.image_name,
        i.acquired_on,
        h.present as per_image,
        i.acquired_on + to_days(setting('osm_date_offset_days')::integer) as target,
        greatest(s.history_stamp, h.last_edit) as history_ends_at,
        s.latest_stamp
    from stg_naip__images as i, history as h, stamps as s
),
timed as (
    select
        image_name,
        acquired_on,
        if(per_image, 'per image', 'one snapshot') as snapshot,
        if(per_image, target, null) as osm_target_at,
        if(per_image, least(target, history_ends_at), latest_stamp) as osm_at
    from targets
)
select *, date_diff('day', acquired_on, osm_at) as osm_gap_days
from timed
