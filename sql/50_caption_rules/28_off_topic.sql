-- rule: off_topic
-- tasks: 1,2
-- kind: verifier
-- why: the caption does not speak of its element: a named element's name is missing (its
--      words in order), or an unnamed one is never called by a word of its kind or meaning:
--      a word of a tag value, of a tag's meaning (the glossary's sentence in the payload), or
--      of topic_words.csv for its tags ("field" for farmland, "road" for any highway).
--      Compared on 5-letter stems ("fields" for "field").
with candidates as (
    select caption_id, cr_words(text) as words, cr_facts(payload) as f
    from caption_candidates
    where task in (1, 2) and cr_has_facts(payload)
),
tags as (
    select caption_id,
           json_extract_string(f, '$.element.tags[*].key') as keys,
           json_extract_string(f, '$.element.tags[*].value') as tag_values,
           list_transform(json_extract_string(f, '$.element.tags[*].key'),
                          (k, i) -> k || '=' || json_extract_string(f, '$.element.tags[*].value')[i])
               as pairs,
           json_extract_string(f, '$.element.tags[*].meaning') as meanings
    from candidates
),
vocabulary as (
    select t.caption_id,
           list_distinct(list_transform(list_concat(
               cr_content(cr_words(array_to_string(list_transform(t.tag_values, v -> replace(v, '_', ' ')), ' '))),
               cr_content(cr_words(array_to_string(t.meanings, ' '))),
               coalesce((select flatten(list(string_split(w.words, ' ')))
                         from caption_topic_words as w
                         where list_contains(t.keys, w.key)
                           and (w.value is null or list_contains(t.pairs, w.key || '=' || w.value))),
                        [])),
               w -> left(w, 5))) as stems
    from tags as t
)
select c.caption_id
from candidates as c
join vocabulary as v using (caption_id)
where case when coalesce(trim(c.f ->> '$.element.name'), '') <> ''
           then not contains(' ' || array_to_string(c.words, ' ') || ' ',
                             ' ' || array_to_string(cr_words(c.f ->> '$.element.name'), ' ') || ' ')
           else len(list_filter(c.words, w -> list_contains(v.stems, left(w, 5)))) = 0
      end
