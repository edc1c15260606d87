-- kind: view
-- grain: source_id
-- title: Sources and licences
-- part: Sources and licences
-- Every ingested source with its licence (the source_licences seed, by kind).
select s.kind, s.name, s.uri, s.snapshot_at, coalesce(l.licence, 'see the source') as licence
from _meta.sources as s
left join source_licences as l using (kind)
order by s.source_id
