-- kind: view
-- grain: run_id
-- title: Throughput of the caption runs
-- part: Generation
-- Per caption run: its attempts and accepted captions (all of `captions`, not only the
-- dataset's), tokens written into accepted captions, and the run's wall time as recorded in
-- _meta.caption_runs (else from its first to its last caption).
with runs as (
    select
        c.run_id,
        string_agg(distinct c.annotator, ', ') as annotator,
        string_agg(distinct c.backend, ', ') as backend,
        count(*) as attempts,
        count(*) filter (c.status = 'accepted') as accepted,
        sum(c.tokens_out) filter (c.status = 'accepted') as tokens_out,
        coalesce(any_value(m.wall_s),
                 date_diff('millisecond', min(c.created_at), max(c.created_at)) / 1000.0)
            as wall_s
    from captions as c
    left join _meta.caption_runs as m on m.run_id = c.run_id
    group by c.run_id
)
select
    run_id, annotator, backend, attempts, accepted, tokens_out,
    round(wall_s, 1) as wall_s,
    round(accepted / nullif(wall_s, 0), 3) as captions_per_s,
    round(tokens_out / nullif(wall_s, 0), 1) as tokens_out_per_s
from runs
order by run_id
