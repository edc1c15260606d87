-- rule: osm_mention
-- tasks: 1,2,3
-- why: the caption names the data source ("OpenStreetMap", "OSM") instead of describing the image.
select caption_id
from caption_candidates
where regexp_matches(text, '(?i)\b(open\s*street\s*map|osm)\b')
