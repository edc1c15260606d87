-- kind: table
-- grain: partition_key, image_name
-- scope: partition_key
-- The partition plan (docs/scale.md): each image belongs to the cell of the partition_deg grid
-- (1 degree: NAIP's 1-degree block) that holds its footprint's centroid, named by the cell's
-- south-west corner: 'n41w075' (41-42 N, 75-74 W, NAIP block 41074), or 'n41.25w074.50'
-- when partition_deg is not a whole number. is_own is false for the halo: an image of another
-- partition whose footprint comes within about a metre of one of this partition's images (its
-- windows take part in the grid's overlap rule). geom: the image footprint, EPSG:4326.
with params as (
    select setting('partition_deg')::double as d
),
cells as (
    select
        i.image_name, i.geom,
        floor(ST_Y(ST_Centroid(i.geom)) / p.d) * p.d as lat0,
        floor(ST_X(ST_Centroid(i.geom)) / p.d) * p.d as lon0,
        p.d = floor(p.d) as whole
    from stg_naip__images as i, params as p
),
homes as (
    select
        image_name, geom,
        ST_MakeEnvelope(ST_XMin(geom) - 1e-5, ST_YMin(geom) - 1e-5,
                        ST_XMax(geom) + 1e-5, ST_YMax(geom) + 1e-5) as reach,
        if(lat0 < 0, 's', 'n')
            || if(whole, format('{:02d}', abs(lat0)::int), format('{:05.2f}', abs(lat0)))
            || if(lon0 < 0, 'w', 'e')
            || if(whole, format('{:03d}', abs(lon0)::int), format('{:06.2f}', abs(lon0)))
            as partition_key
    from cells
),
halo as (
    -- coalesce() keeps the key comparison out of the join condition (a spatial join)
    select distinct a.partition_key, b.image_name
    from homes as a
    join homes as b on ST_Intersects(a.reach, b.geom)
    where coalesce(a.partition_key <> b.partition_key, false)
)
select partition_key, image_name, true as is_own, geom
from homes
union all
select h.partition_key, h.image_name, false as is_own, o.geom
from halo as h
join homes as o using (image_name)
