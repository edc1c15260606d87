-- kind: view
-- grain: task, annotator
-- title: Captions by task and annotator
-- part: Captions
-- plot: task_annotator.png
select
    task,
    annotator,
    count(*) as captions,
    round(100.0 * count(*) / sum(count(*)) over (), 1) as share_pct
from dataset_captions
group by all
order by task, annotator
