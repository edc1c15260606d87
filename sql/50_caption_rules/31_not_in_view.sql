-- rule: not_in_view
-- tasks: 1,2,3
-- why: the caption says what it describes is not in the picture ("A road in the middle of the
--      scene, not in the frame.", Gemma-3-270M in a default build): every element a request
--      describes lies in its patch, so the sentence contradicts itself. "Part of it lies outside
--      the view" or "more of it lies out of sight" (an element running past the edge) is fine.
select caption_id
from caption_candidates
where regexp_matches(lower(text),
    '\bnot (seen |shown |visible )?(in|inside|within|on) (the |this )?(frame|image|picture|view|scene|photo|photograph|tile|crop)\b'
    || '|\b(is|are|isn''t|aren''t) not visible\b|\b(isn''t|aren''t) visible\b|\bcannot be seen\b'
    || '|\bcan''t be seen\b|\binvisible (in|from)\b')
