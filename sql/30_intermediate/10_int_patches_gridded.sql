-- kind: table
-- grain: patch_id
-- partition: partition_key
-- The patch grid (docs/imagery.md). Per image: windows of px_size source pixels (the output
-- patch of patch_size_px pixels at gsd_m, in source pixels) starting at pixel (0, 0) with a
-- stride of px_size * sample_interval; kept when inside the valid-data footprint and not
-- dropped by the seeded draw. Where windows of two images overlap on the ground, the one
-- whose centre lies nearer its own image's footprint centre is kept (ties: smaller image_name).
-- partition_key: the partition of the patch's image (int_image_partitions_assigned); built one
-- partition at a time, with the windows of the partition's halo images in the overlap rule.
-- patch_id: first 13 hex digits (52 bits, exact in JSON doubles) of md5('{image_name}:{px_x}:{px_y}:{px_size}'), as in
-- rsteller_db.imagery.naming.patch_id.
with params as (
    select
        setting('patch_size_px')::int as out_px,
        setting('gsd_m')::double as out_gsd_m,
        setting('sample_interval')::int as sample_interval,
        setting('drop_fraction')::double as drop_fraction,
        setting('seed') as seed
),

images as (
    select
        i.image_name,
        i.epsg,
        i.width_px,
        i.height_px,
        i.gsd_m,
        i.native_bounds[1] as x0,
        i.native_bounds[4] as y0,
        round(p.out_px * p.out_gsd_m / i.gsd_m)::bigint as px_size,
        round(p.out_px * p.out_gsd_m / i.gsd_m)::bigint * p.sample_interval as stride,
        ST_Intersection(
            ST_Transform(i.geom, 'EPSG:4326', 'EPSG:' || i.epsg, always_xy := true),
            ST_MakeEnvelope(i.native_bounds[1], i.native_bounds[2],
                            i.native_bounds[3], i.native_bounds[4])
        ) as footprint_native,
        p.drop_fraction,
        p.seed,
        a.partition_key
    from stg_naip__images as i
    -- a halo image (whose own row is another partition's) gets no key: its windows only
    -- take part in the overlap rule, and the runner keeps the rows of this partition's key
    left join int_image_partitions_assigned as a on a.image_name = i.image_name and a.is_own
    cross join params as p
),

-- 1 cm of slack absorbs the round trip of the footprint through EPSG:4326
footprints as (
    select *, ST_Buffer(footprint_native, 0.01) as footprint_slack,
        ST_Centroid(footprint_native) as centre_native
    from images
    where width_px >= px_size and height_px >= px_size
),

cols as (
    select *, unnest(range((width_px - px_size) // stride + 1)) as col
    from footprints
),

windows as (
    select *, unnest(range((height_px - px_size) // stride + 1)) as "row"
    from cols
),

placed as (
    select
        image_name, epsg, col::int as col, "row"::int as "row",
        (col * stride)::int as px_x,
        ("row" * stride)::int as px_y,
        px_size::int as px_size, drop_fraction, seed, footprint_slack, centre_native,
        partition_key,
        ST_MakeEnvelope(
            x0 + col * stride * gsd_m, y0 - ("row" * stride + px_size) * gsd_m,
            x0 + (col * stride + px_size) * gsd_m, y0 - "row" * stride * gsd_m
        ) as geom_native
    from windows
),

keyed as (
    select
        ('0x' || left(md5(image_name || ':' || px_x || ':' || px_y || ':' || px_size), 13))::bigint
            as patch_id,
        *
    from placed
),

candidates as materialized (
    select
        patch_id, image_name, col, "row", px_x, px_y, px_size, epsg, geom_native, partition_key,
        ST_Transform(geom_native, 'EPSG:' || epsg, 'EPSG:4326', always_xy := true) as geom,
        round(ST_Distance(ST_Centroid(geom_native), centre_native), 3) as centre_dist_m
    from keyed
    where ST_Covers(footprint_slack, geom_native)
      and ('0x' || left(md5(seed || ':' || patch_id), 15))::bigint / 2 ^ 60 >= drop_fraction
),

-- pairs of intersecting windows (DuckDB's spatial join)
touching as (
    select
        a.patch_id, a.image_name, a.centre_dist_m, a.geom,
        b.image_name as other_image, b.centre_dist_m as other_dist_m, b.geom as other_geom
    from candidates as a
    join candidates as b on ST_Intersects(a.geom, b.geom)
),

-- a window loses to an overlapping window of another image lying deeper inside its own image.
-- coalesce() keeps these comparisons out of the join condition: folded into it, they would
-- turn the spatial join into a nested loop over all pairs.
losers as (
    select distinct patch_id
    from touching
    where coalesce(
        other_image <> image_name
        and (other_dist_m < centre_dist_m
             or (other_dist_m = centre_dist_m and other_image < image_name)),
        false)
      and ST_Area(ST_Intersection(geom, other_geom)) > 1e-6 * ST_Area(geom)
)

select patch_id, image_name, col, "row", px_x, px_y, px_size, epsg, geom_native, geom,
    partition_key
from candidates
where patch_id not in (select patch_id from losers)
order by image_name, px_y, px_x
