-- Helpers shared by the payload-aware rules (22_ and up), created once before the rules run.
-- Not a rule: files whose name starts with "_" hold macros. Word lists: plain_words.csv
-- (ordinary words: never taken for a name at a sentence start, never "content").

-- words and sentence marks, in order: "Fairview's", "view", ".", ...
create or replace macro cr_tokens(t) as
    regexp_extract_all(coalesce(t, ''), '[\p{L}\p{N}]+(?:[''’]\p{L}+)?|[.!?:;"“”]');

-- the words alone, lower case, without a possessive 's
create or replace macro cr_words(t) as
    list_transform(list_filter(cr_tokens(t), x -> regexp_matches(x, '^[\p{L}\p{N}]')),
                   x -> regexp_replace(lower(x), '[''’]s$', ''));

-- (variables, not subqueries: lambdas may not hold a subquery)
set variable cr_plain = (select list(word) from caption_plain_words);
set variable cr_compass = (select list(word) from caption_plain_words where kind = 'compass');
create or replace macro cr_plain_list() as getvariable('cr_plain');
create or replace macro cr_compass_list() as getvariable('cr_compass');

-- words that carry meaning: not in plain_words.csv, not numbers, 3+ letters
create or replace macro cr_content(words) as
    list_filter(words, w -> length(w) >= 3 and not regexp_matches(w, '^\d')
                            and not list_contains(cr_plain_list(), w));

-- the facts a request was written from: the payload itself (Task 1/2) or, for a Task 3
-- revision, the source request's payload that revision_requests copies under "facts"
create or replace macro cr_facts(payload) as coalesce(json_extract(payload, '$.facts'), payload::json);
create or replace macro cr_has_facts(payload) as json_exists(cr_facts(payload), '$.element');

-- every text of a JSON value, joined (names, tag values, meanings, phrases, a source caption)
create or replace macro cr_json_text(j) as (
    select coalesce(string_agg(t.value ->> '$', ' '), '')
    from json_tree(j) as t where t.type = 'VARCHAR');

-- the texts a proper name may come from: the element's name, containing places and their
-- kinds, named features in view, tag values (an operator, a brand)
create or replace macro cr_fact_text(payload) as (
    select coalesce(string_agg(t.value ->> '$', ' '), '')
    from json_tree(cr_facts(payload)) as t
    where t.type = 'VARCHAR'
      and regexp_matches(t.fullkey, '^\$\.(element\.name|patch\.places\[\d+\]\.(name|what)|patch\.features\[\d+\]|element\.tags\[\d+\]\.value)$'));
create or replace macro cr_fact_names(payload) as cr_words(cr_fact_text(payload));

-- the measured numbers of the facts (area_m2, length_m, side_m, ...)
create or replace macro cr_fact_measures(payload) as (
    select coalesce(list((t.value ->> '$')::double), [])
    from json_tree(cr_facts(payload)) as t
    where t.type in ('DOUBLE', 'UBIGINT', 'BIGINT')
      and regexp_matches(t.fullkey, '^\$\.(geometry\.[a-z_0-9]+|patch\.side_m)$'));

-- the proper-name words of a list of tokens (cr_tokens of a text, computed once by the caller),
-- lower case, without a possessive 's. Not names: compass points, and a word at a sentence
-- start that starts no run of capitalised words ("Dark green trees" holds no name, "Silver Pond
-- lies" does) or that is ordinary: a plain word, or written in lower case in the same text or
-- in ``padded`` (the prompt with a space at each end: " houses " found in it).
create or replace macro cr_names(toks, padded) as list_transform(
    list_filter(
        list_transform(toks, (x, i) -> struct_pack(
            w := x,
            lw := regexp_replace(lower(x), '[''’]s$', ''),
            start := i = 1 or regexp_matches(toks[i - 1], '^[.!?:;"“”]$'),
            capital_next := coalesce(regexp_matches(toks[i + 1], '^\p{Lu}'), false))),
        s -> regexp_matches(s.w, '^\p{Lu}')
             and not list_contains(cr_compass_list(), s.lw)
             and not (s.start and (not s.capital_next
                                   or list_contains(cr_plain_list(), s.lw)
                                   or list_contains(toks, s.lw)
                                   or contains(padded, ' ' || s.lw || ' ')))),
    s -> s.lw);

-- runs of n words, each as one string (``words`` is read inside a lambda: pass a column, not
-- an expression, or it is evaluated again for every run)
create or replace macro cr_grams(words, n) as
    list_transform(range(1, len(words) - n + 2), i -> array_to_string(words[i:i + n - 1], ' '));

-- numbers written with digits, commas dropped: "8,167" -> 8167
create or replace macro cr_numbers(t) as list_transform(
    regexp_extract_all(coalesce(t, ''), '\d[\d,]*(?:\.\d+)?'), x -> replace(x, ',', '')::double);

-- a grid cell code ('top-left', 'center', 'bottom-center', ...) as row (0 bottom .. 2 top)
-- and column (0 left .. 2 right), the way grid_cells numbers them
create or replace macro cr_cell_row(code) as
    case when code like 'top%' then 2 when code like 'bottom%' then 0 else 1 end;
create or replace macro cr_cell_col(code) as
    case when code like '%left' then 0 when code like '%right' then 2 else 1 end;
