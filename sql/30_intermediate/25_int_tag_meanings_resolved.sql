-- kind: table
-- grain: key, value
-- One meaning per OSM tag key+value (value '' for the key alone): our tag_glossary seed
-- first, then the taginfo wiki (English) when `rsteller-db ingest taginfo` loaded it.
-- Lookups try key+value, then the key alone.
with candidates as (
    select key, coalesce(value, '') as value, description, 1 as priority, 'glossary' as source
    from tag_glossary
    union all
    select key, coalesce(value, '') as value,
           left(regexp_replace(trim(description), '\s+', ' ', 'g'), 200) as description, 2 as priority, 'taginfo' as source
    from raw.taginfo_wiki
    where description is not null and trim(description) <> ''
)
select key, value, description, source
from candidates
qualify row_number() over (partition by key, value order by priority, description) = 1
