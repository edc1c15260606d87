-- rule: not_a_revision
-- tasks: 3
-- kind: verifier
-- why: a Task 3 answer that is not a rewording of its source caption: it drops one of the
--      source's names, adds a name the source does not have, or fewer than 30 % of its content
--      words (5-letter stems) come from the source (a worked example reworded, another scene).
with pairs as (
    select caption_id, text, cr_tokens(text) as toks,
           json_extract_string(payload, '$.caption') as source,
           cr_tokens(json_extract_string(payload, '$.caption')) as source_toks,
           ' ' || coalesce(prompt, '') || ' ' as padded,
           case when cr_has_facts(payload) then cr_fact_names(payload) end as fact_names
    from caption_candidates
    where task = 3 and json_extract_string(payload, '$.caption') is not null
),
words as (
    select caption_id,
           list_filter(cr_names(source_toks, padded),
                       n -> fact_names is null or list_contains(fact_names, n))
               as source_names,
           cr_names(toks, padded) as names,
           cr_words(source) as source_words,
           cr_words(text) as own_words,
           list_transform(list_distinct(cr_content(cr_words(source))), w -> left(w, 5)) as source_stems,
           list_distinct(cr_content(cr_words(text))) as content
    from pairs
)
select caption_id
from words
where len(list_filter(source_names, n -> not list_contains(own_words, n))) > 0
   or len(list_filter(names, n -> not list_contains(source_words, n))) > 0
   or (len(content) >= 3
       and len(list_filter(content, w -> list_contains(source_stems, left(w, 5)))) < 0.3 * len(content))
