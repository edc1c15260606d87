-- rule: copied_example
-- tasks: 1,2,3
-- kind: verifier
-- why: six or more words in a row shared with a worked example of the prompt (a "Caption:",
--      "Caption to rewrite:" or "New caption:" line), at least two of them neither plain words
--      nor words of the request's own facts: a worked example reworded ("A golf course spreads
--      over the top half of the image") instead of a caption of this patch. Runs of the
--      facts' own phrases ("from the left edge to the right edge") do not count.
with examples as (
    select distinct caption_id, e.example
    from caption_candidates,
         unnest(regexp_extract_all(prompt,
             '(?m)^(?:Caption|Caption to rewrite|New caption):[ \t]*(\S.*)$', 1)) as e(example)
),
example_grams as (  -- once per distinct worked example, however many prompts show it
    select example, unnest(cr_grams(words, 6)) as gram
    from (select example, cr_words(example) as words from (select distinct example from examples))
),
caption_grams as (  -- (cr_grams reads its list in a lambda: give it a column, not a call)
    select caption_id, own, unnest(cr_grams(words, 6)) as gram
    from (select caption_id, cr_words(text) as words, cr_words(cr_json_text(payload::json)) as own
          from caption_candidates)
)
select distinct c.caption_id
from caption_grams as c
join examples as x using (caption_id)
join example_grams as g on g.example = x.example and g.gram = c.gram
where len(list_filter(cr_content(string_split(c.gram, ' ')), w -> not list_contains(c.own, w))) >= 2
