-- rule: tag_key_leak
-- tasks: 1,2,3
-- why: an OSM tag key is used as a word: a key from leak_terms.csv (key-only words anywhere; English
--      words like "highway" only in key form: quoted, or followed by "=", ":", "key" or "value"),
--      or any key of the payload's tags that holds "_" or ":" (e.g. "man_made", "building:part").
with words as (
    select caption_id, unnest(regexp_extract_all(lower(text), '[a-z_]+')) as term
    from caption_candidates
),
key_forms as (
    select caption_id,
           unnest(regexp_extract_all(lower(text),
               '["''`]([a-z_]+)["''`]|\b([a-z_]+)\s*[=:]|\b([a-z_]+)\s+(?:key|value)s?\b')) as form
    from caption_candidates
),
payload_keys as (  -- tags as a {key: value} map, or as a list of {"key": ..., "value": ...}
    select * from (
        select c.caption_id,
               case when j.path like '%.tags' and j.type <> 'OBJECT' then j.key
                    when j.path like '%.tags[%]' and j.key = 'key' then j.value ->> '$' end as key
        from caption_candidates c, json_tree(c.payload) j
    )
    where contains(key, '_') or contains(key, ':')
)
select w.caption_id
from words w join caption_leak_terms t on t.match = 'word' and w.term = t.term
union
select k.caption_id
from key_forms k join caption_leak_terms t
  on t.term = trim(regexp_replace(k.form, '["''`=:]|\s+(key|value)s?$', '', 'g'))
union
select k.caption_id
from payload_keys k
join caption_candidates c using (caption_id)
where contains(lower(c.text), lower(k.key))
