-- kind: view
-- grain: patch_id
-- The samples `rsteller-db preview` can show, and the columns its --where conditions use:
-- every dataset_samples patch whose image was fetched, with its Task 1/2 caption (the first
-- of the sample's captions, as exported), the request payload, the number of revisions, the
-- sample's captions to print, and `outline_wkb`, the described element clipped to the patch
-- (from int_patch_elements_joined) in the unit square, origin bottom-left.
select
    ds.request_id,
    ds.patch_id,
    ds.image_name,
    g.col,
    g.row,
    ds.captions[1].task as task,
    ds.element_id,
    r.prompt_name,
    ds.osm_type,
    ds.osm_id,
    ds.element_kind,
    ds.tags,
    r.payload,
    ds.captions[1].caption_id as caption_id,
    ds.captions[1].text as text,
    ds.captions[1].annotator as annotator,
    ds.captions[1].backend as backend,
    ds.captions[1].run_id as run_id,
    ds.captions[1].created_at as created_at,
    len(ds.captions) - 1 as revisions,
    ds.image_path,
    list_transform(ds.captions, c -> {'task': c.task, 'annotator': c.annotator, 'text': c.text})
        as captions,
    ST_AsWKB(ST_TransScale(j.geom_native, -j.x0, -j.y0, 1.0 / j.side_m, 1.0 / j.side_m))
        as outline_wkb
from dataset_samples as ds
join int_patches_gridded as g using (patch_id)
left join caption_requests as r using (request_id)
left join int_patch_elements_joined as j
  on j.patch_id = ds.patch_id and j.element_id = ds.element_id
where ds.image_status = 'ok'
