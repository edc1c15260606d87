-- rule: unknown_name
-- tasks: 1,2,3
-- kind: verifier
-- why: a proper name that the facts never showed ("Silver Pond", "Oxford County" in a
--      Pennsylvania town): every capitalised word must be a word of the element's name, a
--      containing place or its kind, a named feature in view or a tag value (a Task 3 revision
--      may also use the words of the caption it rewrites). Ordinary capitalised words are not
--      names: sentence starts that are plain words or written in lower case in the prompt or
--      the caption, and compass points. Only for requests that carry facts.
with candidates as (
    select caption_id, payload, cr_tokens(text) as toks, ' ' || coalesce(prompt, '') || ' ' as padded
    from caption_candidates
    where cr_has_facts(payload) or (task = 3 and json_extract_string(payload, '$.caption') is not null)
),
names as (
    select caption_id,
           cr_names(toks, padded) as names,
           list_concat(cr_fact_names(payload),
                       cr_words(json_extract_string(payload, '$.caption'))) as allowed
    from candidates
)
select caption_id
from names
where len(list_filter(names, n -> not list_contains(allowed, n))) > 0
