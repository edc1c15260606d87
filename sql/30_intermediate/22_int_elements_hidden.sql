-- kind: table
-- grain: element_id, osm_from
-- scope: geom
-- The elements a caption never describes because an aerial photograph cannot show them, by
-- the element-scope rules of the visibility_rules seed (underground, tunnels, covered, negative
-- layers, buried pipelines and cables, indoor and upper-floor features, lifecycle values,
-- routes and administrative lines). An element matches a rule when one of its tags has a key
-- matching key_pattern and a value matching value_pattern but not except_value_pattern, and
-- no tag unless_key = unless_value_pattern says otherwise (a pipeline marked overground).
-- The first rule in seed order names the skip_reason. Which rules removed what:
--   select rule, count(*) from int_elements_hidden group by all
-- Tag-scope rules (lifecycle prefixes) only drop the tag from the payload (caption_requests).
-- One row per hidden element state (osm_from, osm_until: see stg_osm__elements).
with rules as (
    select row_number() over () as rule_order, *
    from visibility_rules
    where scope = 'element'
),
tags as (
    select e.element_id, e.osm_from, e.osm_until, e.geom, t.key, t.value
    from int_elements_validated as e, unnest(map_entries(e.tags)) as u(t)
),
hits as (
    select t.element_id, t.osm_from, any_value(t.osm_until) as osm_until,
           any_value(t.geom) as geom, r.rule, r.rule_order, r.why,
           r.unless_key, r.unless_value_pattern
    from tags as t
    join rules as r
      on regexp_matches(t.key, r.key_pattern)
     and regexp_matches(t.value, r.value_pattern)
     and (r.except_value_pattern is null or not regexp_matches(t.value, r.except_value_pattern))
    group by all
),
kept_by_unless as (
    select distinct h.element_id, h.osm_from, h.rule
    from hits as h
    join tags as t
      on t.element_id = h.element_id
     and t.osm_from = h.osm_from
     and h.unless_key is not null
     and regexp_matches(t.key, h.unless_key)
     and regexp_matches(t.value, h.unless_value_pattern)
)
select element_id, arg_min(rule, rule_order) as rule,
       arg_min(rule || ': ' || why, rule_order) as skip_reason,
       any_value(geom) as geom, osm_from, any_value(osm_until) as osm_until
from hits
anti join kept_by_unless using (element_id, osm_from, rule)
group by element_id, osm_from
