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
    select e.element_id, e.osm_from, t.key, t.value
    from int_elements_validated as e, unnest(map_entries(e.tags)) as u(t)
),
-- The patterns are data, so each regexp_matches compiles its pattern per call: match them
-- against the distinct keys first (a few hundred), then the distinct values of those keys
-- only, and reach the tag rows by equality.
key_rules as (
    select k.key, r.*
    from (select distinct key from tags) as k
    join rules as r on regexp_matches(k.key, r.key_pattern)
),
pair_rules as (
    select p.key, p.value, r.rule, r.rule_order, r.why, r.unless_key, r.unless_value_pattern
    from (select distinct key, value from tags semi join key_rules using (key)) as p
    join key_rules as r
      on r.key = p.key
     and regexp_matches(p.value, r.value_pattern)
     and (r.except_value_pattern is null or not regexp_matches(p.value, r.except_value_pattern))
),
hits as (
    select distinct t.element_id, t.osm_from, r.rule, r.rule_order, r.why,
           r.unless_key, r.unless_value_pattern
    from tags as t
    join pair_rules as r using (key, value)
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
),
hidden as (
    select element_id, osm_from, arg_min(rule, rule_order) as rule,
           arg_min(rule || ': ' || why, rule_order) as skip_reason
    from hits
    anti join kept_by_unless using (element_id, osm_from, rule)
    group by element_id, osm_from
)
select h.element_id, h.rule, h.skip_reason, e.geom, h.osm_from, e.osm_until
from hidden as h
join int_elements_validated as e using (element_id, osm_from)
