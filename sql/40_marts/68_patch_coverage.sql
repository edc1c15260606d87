-- kind: view
-- grain: patch_id
-- The dataset card's coverage map: every grid patch with what the dataset holds of it,
-- 'captioned' (a dataset sample), 'image only' (a fetched image, no sample) or 'gridded'.
select
    g.patch_id,
    g.image_name,
    case
        when s.patch_id is not null then 'captioned'
        when i.patch_id is not null then 'image only'
        else 'gridded'
    end as coverage,
    g.geom
from int_patches_gridded as g
left join (select patch_id from dataset_samples) as s using (patch_id)
left join (select patch_id from patch_images where status = 'ok') as i using (patch_id)
where g.geom is not null
