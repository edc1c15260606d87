-- kind: table
-- grain: image_name
-- scope: image_name
-- One row per ingested NAIP image. geom is the valid-data footprint in EPSG:4326;
-- native_bounds the raster's extent [xmin, ymin, xmax, ymax] in its own CRS (EPSG:epsg);
-- its top-left corner (xmin, ymax) is the origin of the pixel grid. url_signing names the
-- signer that `images fetch` applies to the URL before reading it (NULL: none).
select
    image_name,
    acquired_on,
    epsg,
    gsd_m,
    width_px,
    height_px,
    case
        when footprint_crs = 'EPSG:4326' then footprint
        else ST_Transform(footprint, footprint_crs, 'EPSG:4326', always_xy := true)
    end as geom,
    [xmin, ymin, xmax, ymax] as native_bounds,
    source,
    uri,
    details ->> 'sign' as url_signing
from raw.naip_images
qualify row_number() over (partition by image_name order by ingested_at desc, source_id desc) = 1
