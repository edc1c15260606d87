-- kind: view
-- grain: patch_id
-- What the exporter writes, one row per dataset sample in patch_id order of reading:
-- the dataset_samples columns as the metadata row (tags as key/value pairs: parquet readers
-- such as Hugging Face `datasets` have no MAP type), `_document`, the sample's RSTeller JSON
-- document as UTF-8 bytes, and `_digest`, which tells a resumed export whether a finished
-- shard still holds what the warehouse says. Columns whose names start with `_` are not
-- metadata. The document is written by DuckDB on its threads: compact, the same bytes as
-- Python's json.dumps with separators (",", ":") and ensure_ascii=False,
--   {"metadata": {"patch_id": 726, "image_name": "m_..."},
--    "annotations": [{"task": 1, "text": "...", "annotator": "..."}, ...]}
-- The digest is DuckDB's 64-bit hash of the whole dataset_samples row (deterministic for the
-- pinned DuckDB); hashing the row as it is costs far less than md5 of the row cast to text.
select
    ds.* replace (map_entries(ds.tags) as tags),
    hash(ds)::varchar as _digest,
    encode(to_json({
        'metadata': {'patch_id': ds.patch_id, 'image_name': ds.image_name},
        'annotations': list_transform(
            ds.captions, c -> {'task': c.task, 'text': c.text, 'annotator': c.annotator})
    })::varchar) as _document
from dataset_samples as ds
