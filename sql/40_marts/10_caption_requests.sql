-- kind: table
-- grain: request_id
-- partition: patch_id
-- One Task 1 (area) or Task 2 (line) prompt payload per selected patch: every fact the
-- template shows, numbers already turned into words, tags with their meanings. Tag values
-- come from OSM and are untrusted: they are cut to tag_value_max_chars here and fenced as
-- data by the template. The area outline (simplified at tolerance 0.2 in unit coordinates,
-- 3 decimals) is drawn here, for the chosen element only.
-- With a full-history extract the element is the state the image's OSM time sees, and the
-- patch facts record that time (osm_snapshot_at, UTC) and its gap to the acquisition date
-- (osm_gap_days); payloads from plain extracts carry neither.
-- Rows are stored in patch_id order: a caption run reads them in storage order, so captions
-- and requests of nearby patch ids lie together and a patch_id range reads a few row groups
-- (how revision_requests is read, range by range).
with chosen as (
    select s.patch_id, s.task, s.element_id
    from int_patches_selected as s
    where s.element_id is not null
),
snapshots as (
    select p.patch_id, s.snapshot, s.osm_at, s.osm_gap_days
    from int_patches_gridded as p
    left join stg_osm__image_snapshots as s using (image_name)
),
elements as (
    select c.patch_id, c.element_id, e.osm_type, e.osm_id, e.tags
    from chosen as c
    join snapshots as t using (patch_id)
    join int_elements_validated as e using (element_id)
    where coalesce(osm_valid_at(e.osm_from, e.osm_until, t.osm_at), false)
),
tag_rows as (
    select
        x.patch_id, x.element_id,
        regexp_replace(t.key, '[[:cntrl:]]+', ' ', 'g') as key,
        regexp_replace(left(t.value, setting('tag_value_max_chars')::integer),
                       '[[:cntrl:]]+', ' ', 'g') as value
    from elements as x, unnest(map_entries(x.tags)) as u(t)
    where t.key <> 'name'
      -- tags a caption never describes (visibility_rules, scope tag: lifecycle prefixes)
      and not exists (select 1 from visibility_rules as v
                      where v.scope = 'tag' and regexp_matches(t.key, v.key_pattern))
),
tag_facts as (
    select
        r.patch_id, r.element_id,
        list({'key': r.key, 'value': r.value,
              'meaning': coalesce(kv.description, k.description)} order by r.key) as tags
    from tag_rows as r
    left join int_tag_meanings_resolved as kv on kv.key = r.key and kv.value = r.value
    left join int_tag_meanings_resolved as k on k.key = r.key and k.value = ''
    group by r.patch_id, r.element_id
),
patch_facts as (
    select
        p.patch_id,
        {'patch_id': p.patch_id, 'image_name': p.image_name,
         'acquired_on': strftime(i.acquired_on, '%Y-%m-%d'),
         'side_m': round(j.side_m, 1),
         'places': x.places, 'features': x.features} as patch
    from int_patches_gridded as p
    join stg_naip__images as i using (image_name)
    join int_patch_contexts_gathered as x using (patch_id)
    join (select distinct patch_id, side_m from int_patch_elements_joined) as j using (patch_id)
),
cell_words as (
    select map_from_entries(list((position, words))) as words from grid_cells
),
area_facts as (
    select
        a.patch_id, a.element_id,
        {'kind': 'area',
         'positions': a.positions,
         'position_words': list_transform(a.positions, p -> cw.words[p]),
         'shape': a.shape,
         'shape_words': sw.words,
         'area_m2': a.area_m2,
         'area_norm': a.area_norm,
         'size_words': aw.words,
         'outline': ST_AsText(ST_Normalize(ST_ReducePrecision(
             ST_SimplifyPreserveTopology(ST_TransScale(j.geom_native, -j.x0, -j.y0,
                 1.0 / j.side_m, 1.0 / j.side_m), 0.2), 0.001))),
         'extends_beyond_view': a.is_clipped} as facts
    from int_patch_areas_described as a
    join chosen as c on c.patch_id = a.patch_id and c.element_id = a.element_id and c.task = 1
    join int_patch_elements_joined as j
      on j.patch_id = a.patch_id and j.element_id = a.element_id
    cross join cell_words as cw
    left join descriptor_words as sw on sw.measure = 'shape' and sw.code = a.shape
    left join descriptor_words as aw
      on aw.measure = 'area_norm' and a.area_norm >= aw.lo and a.area_norm < aw.hi
),
line_facts as (
    select
        l.patch_id, l.element_id,
        {'kind': 'line',
         'start_position': l.start_position,
         'start_words': gs.words,
         'start_edge_words': es.words,
         'end_position': l.end_position,
         'end_words': ge.words,
         'end_edge_words': ee.words,
         'sinuosity': l.sinuosity,
         'sinuosity_words': sw.words,
         'orientation': l.orientation,
         'orientation_words': ow.words,
         'length_m': l.length_m,
         'length_norm': l.length_norm,
         'length_words': lw.words,
         'extends_beyond_view': l.is_clipped} as facts
    from int_patch_lines_described as l
    join chosen as c on c.patch_id = l.patch_id and c.element_id = l.element_id and c.task = 2
    join grid_cells as gs on gs.position = l.start_position
    join grid_cells as ge on ge.position = l.end_position
    left join descriptor_words as es on es.measure = 'edge' and es.code = l.start_edge
    left join descriptor_words as ee on ee.measure = 'edge' and ee.code = l.end_edge
    left join descriptor_words as sw on sw.measure = 'sinuosity' and sw.code = l.sinuosity
    left join descriptor_words as ow on ow.measure = 'orientation' and ow.code = l.orientation
    left join descriptor_words as lw
      on lw.measure = 'length_norm' and l.length_norm >= lw.lo and l.length_norm < lw.hi
),
facts as (
    select
        c.patch_id, c.task, c.element_id, t.snapshot, t.osm_at, t.osm_gap_days,
        struct_update(pf.patch, features := list_filter(
            pf.patch.features, f -> f is distinct from e.tags['name'])) as patch,
        {
            'element_id': c.element_id,
            'osm_type': e.osm_type,
            'osm_id': e.osm_id,
            'name': regexp_replace(left(e.tags['name'], setting('tag_value_max_chars')::integer),
                                   '[[:cntrl:]]+', ' ', 'g'),
            'tags': coalesce(tf.tags, [])
        } as element,
        coalesce(af.facts::json, lf.facts::json) as geometry
    from chosen as c
    join elements as e using (patch_id, element_id)
    join patch_facts as pf using (patch_id)
    join snapshots as t using (patch_id)
    left join tag_facts as tf using (patch_id, element_id)
    left join area_facts as af using (patch_id, element_id)
    left join line_facts as lf using (patch_id, element_id)
)
select
    patch_id || '-t' || task as request_id,
    patch_id,
    task,
    element_id,
    case task when 1 then 'task1_area' else 'task2_line' end as prompt_name,
    case when snapshot = 'per image' then to_json({
        'task': task,
        'patch': struct_insert(patch,
            osm_snapshot_at := strftime(osm_at, '%Y-%m-%dT%H:%M:%SZ'),
            osm_gap_days := osm_gap_days),
        'element': element,
        'geometry': geometry
    })
    else to_json({'task': task, 'patch': patch, 'element': element, 'geometry': geometry})
    end as payload
from facts
order by patch_id
