-- rule: repetitive
-- tasks: 1,2,3
-- why: garbage: a caption of 10+ words in which fewer than 40 % of the words are distinct, or in
--      which the same four words follow each other three or more times.
with words as (
    select caption_id, regexp_extract_all(lower(text), '[\p{L}\p{N}]+') as w
    from caption_candidates
),
grams as (
    select caption_id, w,
           list_transform(range(1, len(w) - 2),
                          i -> w[i] || ' ' || w[i + 1] || ' ' || w[i + 2] || ' ' || w[i + 3]) as t
    from words
)
select caption_id
from grams
where len(w) >= 10
  and (len(list_distinct(w)) < 0.4 * len(w)
       or len(t) - len(list_distinct(t)) >= 2 and
          list_max(list_transform(list_distinct(t), x -> len(list_filter(t, y -> y = x)))) >= 3)
