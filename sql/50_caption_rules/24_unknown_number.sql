-- rule: unknown_number
-- tasks: 1,2,3
-- kind: verifier
-- why: a number written in digits that the facts do not hold: not in the FACTS block the
--      prompt showed, not in a name or tag value ("2" lanes, "35 mph"), not in the caption a
--      revision rewrites, and not within 5 % of a measured value (rounding 269 metres to "270"
--      is fine). Only for requests that carry facts, and revisions.
with candidates as (
    select caption_id, cr_numbers(text) as mine,
           list_concat(
               cr_numbers(regexp_extract(prompt, '(?s).*=== FACTS ===(.*?)=== END OF FACTS ===', 1)),
               cr_numbers(cr_fact_text(payload)),
               cr_numbers(json_extract_string(payload, '$.caption'))) as known,
           cr_fact_measures(payload) as measures
    from caption_candidates
    where cr_has_facts(payload) or (task = 3 and json_extract_string(payload, '$.caption') is not null)
)
select caption_id
from candidates
where len(list_filter(mine, n ->
          not list_contains(known, n)
          and len(list_filter(measures, k -> k > 0 and abs(n - k) <= 0.05 * k)) = 0)) > 0
