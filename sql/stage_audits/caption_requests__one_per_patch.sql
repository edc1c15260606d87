-- One Task 1 or Task 2 request per patch: never two requests for the same patch.
select patch_id, count(*) as n, list(request_id order by request_id) as request_ids
from caption_requests
group by patch_id
having count(*) > 1
