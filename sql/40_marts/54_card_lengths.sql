-- kind: view
-- grain: task (and one row 'all')
-- title: Caption length (words)
-- part: Captions
-- plot: caption_length.png
select
    coalesce(task::varchar, 'all') as task,
    count(*) as captions,
    min(words) as min,
    round(avg(words), 1) as mean,
    median(words) as median,
    quantile_disc(words, 0.9) as p90,
    max(words) as max
from dataset_captions
group by grouping sets ((task), ())
order by grouping(task), task
