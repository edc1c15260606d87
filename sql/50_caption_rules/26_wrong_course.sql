-- rule: wrong_course
-- tasks: 2,3
-- kind: verifier
-- why: a course that contradicts a line's facts (course_phrases.csv): "north to south" for an
--      east-west road, "diagonally" for a north-south one, "winding" or "curving" for a
--      straight one, "straight" for one that winds and twists. A line without one clear
--      direction is not held to a compass course. Task 3 is checked against its source's facts.
with lines as (
    select caption_id, lower(text) as t,
           cr_facts(payload) ->> '$.geometry.orientation' as orientation,
           cr_facts(payload) ->> '$.geometry.sinuosity' as sinuosity
    from caption_candidates
    where cr_facts(payload) ->> '$.geometry.kind' = 'line'
)
select distinct l.caption_id
from lines as l
join caption_course_phrases as p on regexp_matches(l.t, p.pattern)
where case p.measure when 'orientation' then l.orientation else l.sinuosity end not in ('none', '')
  and not list_contains(string_split(p.allowed, '|'),
                        case p.measure when 'orientation' then l.orientation else l.sinuosity end)
