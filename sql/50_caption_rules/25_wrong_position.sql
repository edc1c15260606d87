-- rule: wrong_position
-- tasks: 1,2,3
-- kind: verifier
-- why: a corner or side of the view (position_phrases.csv: "top-left", "lower half", "the
--      right edge", "in the center of the image", and for areas "the northern part") that the
--      element does not reach.
--      An area reaches the cells of its parts' centroids, and the neighbouring cells too when
--      it covers 30 % of the view or more; a line reaches the rows and columns between its
--      start and end. "Top-left" for a bottom-right area is wrong, so is "the top edge" for a
--      road that runs along the bottom. Task 3 is checked against its source's facts.
with candidates as (
    select caption_id, lower(text) as t, cr_facts(payload) as f
    from caption_candidates
    where cr_has_facts(payload)
),
facts as (
    select caption_id, t,
           f ->> '$.geometry.kind' as kind,
           coalesce(try_cast(f ->> '$.geometry.area_norm' as double), 0) as area_norm,
           case when f ->> '$.geometry.kind' = 'line'
                then [f ->> '$.geometry.start_position', f ->> '$.geometry.end_position']
                else json_extract_string(f, '$.geometry.positions[*]') end as cells
    from candidates
),
claims as (
    select x.caption_id, x.kind, x.area_norm, x.cells,
           case p.v when 'top' then 2 when 'middle' then 1 when 'bottom' then 0 end as v,
           case p.h when 'left' then 0 when 'middle' then 1 when 'right' then 2 end as h
    from facts as x
    join caption_position_phrases as p
      on regexp_matches(x.t, p.pattern) and (p.scope = 'all' or x.kind = 'area')
    where len(x.cells) > 0
)
select distinct caption_id
from claims
where case when kind = 'line' then
          not ((v is null or v between least(cr_cell_row(cells[1]), cr_cell_row(cells[2]))
                                   and greatest(cr_cell_row(cells[1]), cr_cell_row(cells[2])))
               and (h is null or h between least(cr_cell_col(cells[1]), cr_cell_col(cells[2]))
                                       and greatest(cr_cell_col(cells[1]), cr_cell_col(cells[2]))))
      else
          len(list_filter(cells, c ->
              (v is null or abs(v - cr_cell_row(c)) <= (case when area_norm >= 0.3 then 1 else 0 end))
              and (h is null or abs(h - cr_cell_col(c)) <= (case when area_norm >= 0.3 then 1 else 0 end)))) = 0
      end
