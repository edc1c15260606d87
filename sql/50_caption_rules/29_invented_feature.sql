-- rule: invented_feature
-- tasks: 1,2,3
-- kind: verifier
-- why: a sentence states a feature the facts do not hold ("farm buildings are visible", "runs
--      through a residential area" for a railway whose facts say nothing of houses): a word of
--      feature_words.csv that is not a word of the facts (the element's tags and their
--      meanings, names, containing places, named features, the geometry phrases), not a kind
--      word of topic_words.csv for its tags, and not in the caption a revision rewrites.
--      Compared on singular forms and 5-letter stems. A sentence that hedges ("likely",
--      "probably", "perhaps", "may", "might", "could", "possibly", "suggests", "appears",
--      "seems") may infer: the prompt asks to hedge inferences, not to leave them out.
with candidates as (
    select caption_id, text, cr_facts(payload) as f,
           json_extract_string(payload, '$.caption') as source
    from caption_candidates
    where cr_has_facts(payload)
),
known as (
    select c.caption_id,
           list_distinct(list_concat(
               cr_words(replace(cr_json_text(c.f), '_', ' ')),
               cr_words(c.source),
               coalesce((select flatten(list(string_split(w.words, ' ')))
                         from caption_topic_words as w
                         where list_contains(json_extract_string(c.f, '$.element.tags[*].key'), w.key)
                           and (w.value is null or list_contains(
                               list_transform(json_extract_string(c.f, '$.element.tags[*].key'),
                                   (k, i) -> k || '=' || json_extract_string(c.f, '$.element.tags[*].value')[i]),
                               w.key || '=' || w.value))),
                        []))) as words
    from candidates as c
),
forms as (
    select caption_id,
           list_distinct(list_concat(
               list_transform(words, w -> regexp_replace(w, 's$', '')),
               list_transform(words, w -> left(w, 5)))) as allowed
    from known
),
sentences as (
    select caption_id, unnest(string_split(
               regexp_replace(text, '([.!?;])\s+', '\1' || chr(10), 'g'), chr(10)))
               as sentence
    from candidates
),
claims as (
    select s.caption_id, unnest(cr_words(s.sentence)) as word
    from sentences as s
    where not regexp_matches(lower(s.sentence),
        '\b(likely|probably|perhaps|maybe|may|might|could|possibly|suggests?|appears?|seems?|presumably)\b')
)
select distinct c.caption_id
from claims as c
join caption_feature_words as fw on fw.word = c.word
join forms as f using (caption_id)
where not list_contains(f.allowed, regexp_replace(c.word, 's$', ''))
  and not list_contains(f.allowed, left(c.word, 5))
