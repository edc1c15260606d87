-- kind: view
-- grain: patch_id
-- One row per exportable patch: its accepted Task 1/2 caption followed by its accepted Task 3
-- revisions (one per revision request '{patch_id}-t3-{k}', in k order), with the patch, image,
-- cached JPEG and described OSM element (as the image's OSM time saw it). When several Task
-- 1/2 captions were accepted, the one revision_requests revises is kept (lowest task, then
-- caption_id). A view, because captions and cached images change outside the build.
with accepted as (
    select * from captions where status = 'accepted'
),
primary_captions as (
    select * from accepted
    where task in (1, 2)
    qualify row_number() over (partition by patch_id order by task, caption_id) = 1
),
revisions as (
    select * from accepted
    where task = 3
    qualify row_number() over (partition by request_id order by attempt, caption_id) = 1
),
caption_rows as (
    select *, 0 as revision from primary_captions
    union all by name
    select r.*,
        coalesce(try_cast(split_part(r.request_id, '-t3-', 2) as integer), 2147483647) as revision
    from revisions r
    semi join primary_captions p on p.patch_id = r.patch_id
),
caption_lists as (
    -- ordered by (revision, caption_id): list_sort over (key, key, caption) structs, then the
    -- keys dropped, costs a third of an ordered list() aggregate, which sorts every group
    select
        patch_id,
        list_transform(
            list_sort(list(struct_pack(
                _revision := revision, _caption_id := caption_id,
                caption := struct_pack(caption_id, request_id, task, attempt, text, annotator,
                                       backend, prompt_name, prompt_hash,
                                       sampling := sampling::varchar, tokens_in, tokens_out,
                                       latency_s, run_id, created_at)))),
            c -> c.caption) as captions
    from caption_rows
    group by patch_id
),
described as (
    -- the element as the patch's image saw it (its OSM time, stg_osm__image_snapshots)
    select pc.patch_id, e.osm_type, e.osm_id, e.kind, e.tags
    from primary_captions pc
    join int_patches_gridded p on p.patch_id = pc.patch_id
    join caption_requests q on q.request_id = pc.request_id
    left join stg_osm__image_snapshots s on s.image_name = p.image_name
    join stg_osm__elements e on e.element_id = q.element_id
    where coalesce(osm_valid_at(e.osm_from, e.osm_until, s.osm_at), false)
)
select
    p.patch_id,
    p.image_name,
    i.acquired_on,
    st_astext(p.geom) as geom_wkt,
    pc.request_id,
    q.element_id,
    e.osm_type,
    e.osm_id,
    e.kind as element_kind,
    e.tags,
    coalesce(pi.status, 'missing') as image_status,
    pi.path as image_path,
    pi.reason as image_reason,
    pi.fetched_at as image_fetched_at,
    cl.captions
from primary_captions pc
join int_patches_gridded p on p.patch_id = pc.patch_id
join caption_lists cl on cl.patch_id = pc.patch_id
left join stg_naip__images i on i.image_name = p.image_name
left join caption_requests q on q.request_id = pc.request_id
left join described e on e.patch_id = pc.patch_id
left join patch_images pi on pi.patch_id = pc.patch_id
