-- kind: view
-- grain: request_id
-- Task 3 revision requests, live over `captions`: for every patch whose Task 1/2 caption was
-- accepted, k = 1 .. setting('revisions_per_patch') requests '{patch_id}-t3-{k}'. The payload
-- carries the caption to rewrite and `examples_key`, a number drawn from (seed, patch_id, k)
-- with which prompts/task3_revision.j2 picks its five revision examples, and `facts`: the
-- source request's patch, element and geometry, which the caption rules check a revision
-- against (the prompt does not show them).
-- The source caption is chosen over narrow rows, and its text and payload joined after, so
-- the window never holds the payloads. Every join also matches patch_id, so a filter on
-- patch_id reaches all three scans: a caption run reads this view one patch_id range at a
-- time, and each range costs what its rows cost (captions and caption_requests are stored
-- in patch_id order, see 10_caption_requests.sql).
with chosen as (
    select patch_id, task, caption_id, request_id
    from captions
    where status = 'accepted' and task in (1, 2)
    qualify row_number() over (partition by patch_id order by task, caption_id) = 1
),
accepted as (
    select s.patch_id, s.task, s.caption_id, c.text, r.element_id, r.payload as source_payload
    from chosen s
    join captions c on c.caption_id = s.caption_id and c.patch_id = s.patch_id
    join caption_requests r on r.request_id = s.request_id and r.patch_id = s.patch_id
),
revisions as (
    select unnest(range(1, coalesce(setting('revisions_per_patch'), '1')::INTEGER + 1)) as k
)
select
    a.patch_id || '-t3-' || v.k as request_id,
    a.patch_id,
    3 as task,
    a.element_id,
    'task3_revision' as prompt_name,
    json_object(
        'caption', a.text,
        'source_caption_id', a.caption_id,
        'source_task', a.task,
        'revision', v.k,
        'examples_key', ('0x' || left(md5(concat_ws(':', coalesce(setting('seed'), '42'), a.patch_id, v.k)), 7))::BIGINT,
        'facts', json_object(
            'patch', a.source_payload -> '$.patch',
            'element', a.source_payload -> '$.element',
            'geometry', a.source_payload -> '$.geometry')
    ) as payload
from accepted a
cross join revisions v
