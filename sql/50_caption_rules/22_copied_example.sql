-- rule: copied_example
-- tasks: 1,2,3
-- kind: verifier
-- why: six or more words in a row shared with a worked example of the prompt (a "Caption:",
--      "Caption to rewrite:" or "New caption:" line), at least two of them neither plain words
--      nor words of the request's own facts: a worked example reworded ("A golf course spreads
--      over the top half of the image") instead of a caption of this patch. Runs of the
--      facts' own phrases ("from the left edge to the right edge") do not count.
with examples as (
    select caption_id, text, payload,
           unnest(regexp_extract_all(prompt,
               '(?m)^(?:Caption|Caption to rewrite|New caption):[ \t]*(\S.*)$', 1)) as example
    from caption_candidates
),
shared as (
    select caption_id,
           unnest(list_intersect(cr_grams(cr_words(text), 6), cr_grams(cr_words(example), 6))) as gram,
           cr_words(cr_json_text(payload::json)) as own
    from examples
)
select distinct caption_id
from shared
where len(list_filter(cr_content(string_split(gram, ' ')), w -> not list_contains(own, w))) >= 2
