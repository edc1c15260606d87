-- kind: view
-- grain: caption_id
-- The captions of the dataset: those the export writes, one row each (the accepted Task 1/2
-- caption of each dataset_samples patch and its accepted Task 3 revisions), with the
-- caption's length in words (whitespace-separated pieces of its text). The dataset card
-- counts these; the other rows of `captions` are rejected or failed attempts, or accepted
-- captions the export does not use (a second Task 1/2 caption of a patch).
with unnested as (
    select patch_id, image_name, unnest(captions) as caption from dataset_samples
)
select
    patch_id,
    image_name,
    caption.*,
    len(string_split_regex(trim(caption.text), '\s+')) as words
from unnested
