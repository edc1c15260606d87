-- kind: view
-- grain: one row
-- The figures at the top of the dataset card (`rsteller-db stats` prints them): patches and
-- captions of the dataset (dataset_captions), the accepted share of all caption attempts, the
-- share of each task, annotator models, mean words, and patch images fetched. The card adds
-- its lexical figures (tokens, vocabulary, MTLD), which Python computes.
with attempts as (
    select count(*) as n, count(*) filter (status = 'accepted') as accepted from captions
),
dataset as (
    select
        count(*) as captions,
        count(distinct patch_id) as patches,
        count(*) filter (task = 1) as task1,
        count(*) filter (task = 2) as task2,
        count(*) filter (task = 3) as task3,
        count(distinct annotator) as annotators,
        round(avg(words), 1) as mean_words
    from dataset_captions
)
select
    d.patches,
    d.captions,
    round(100.0 * a.accepted / nullif(a.n, 0), 1) as acceptance_pct,
    round(100.0 * d.task1 / nullif(d.captions, 0), 1) as task1_pct,
    round(100.0 * d.task2 / nullif(d.captions, 0), 1) as task2_pct,
    round(100.0 * d.task3 / nullif(d.captions, 0), 1) as task3_pct,
    d.annotators,
    d.mean_words,
    (select count(*) from patch_images where status = 'ok') as images_ok
from dataset as d, attempts as a
