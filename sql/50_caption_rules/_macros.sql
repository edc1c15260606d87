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

-- words that are ordinary at a sentence start: plain words, and words the prompt or the
-- caption itself writes in lower case ("Houses ..." when "houses" appears elsewhere)
create or replace macro cr_ordinary(text, prompt) as list_concat(
    cr_plain_list(),
    list_filter(cr_tokens(coalesce(prompt, '') || ' ' || coalesce(text, '')), x -> x = lower(x)));

-- the proper-name words of a text: capitalised words, lower case, without a possessive 's.
-- Not names: compass points, and a word at a sentence start that is ordinary or that starts
-- no run of capitalised words ("Dark green trees" is no name, "Silver Pond lies" is one).
create or replace macro cr_names(text, ordinary) as list_transform(
    list_filter(
        list_transform(cr_tokens(text), (x, i) -> struct_pack(
            w := x,
            start := i = 1 or regexp_matches(cr_tokens(text)[i - 1], '^[.!?:;"“”]$'),
            capital_next := coalesce(regexp_matches(cr_tokens(text)[i + 1], '^\p{Lu}'), false))),
        s -> regexp_matches(s.w, '^\p{Lu}')
             and not list_contains(cr_compass_list(), lower(s.w))
             and not (s.start and (not s.capital_next
                                   or list_contains(ordinary, regexp_replace(lower(s.w), '[''’]s$', ''))))),
    s -> regexp_replace(lower(s.w), '[''’]s$', ''));

-- runs of n words, each as one string
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
