-- Every payload carries the facts its template needs.
select request_id, prompt_name
from caption_requests
where json_extract(payload, '$.geometry') is null
   or json_extract(payload, '$.element.tags') is null
   or json_extract(payload, '$.patch.side_m') is null
   or (task = 1 and (json_extract_string(payload, '$.geometry.size_words') is null
                     or json_extract_string(payload, '$.geometry.shape_words') is null))
   or (task = 2 and (json_extract_string(payload, '$.geometry.length_words') is null
                     or json_extract_string(payload, '$.geometry.orientation_words') is null))
   or prompt_name <> case task when 1 then 'task1_area' else 'task2_line' end
