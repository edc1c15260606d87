-- rule: instruction_echo
-- tasks: 1,2,3
-- why: the answer talks about instructions or about being a model (an injected tag value or a refusal echoed).
select caption_id
from caption_candidates
where regexp_matches(text, '(?i)(\bignore\b.{0,40}\binstructions?\b|\b(previous|prior|above|earlier)\s+instructions?\b|\breply\s+with\b|\bas an ai\b|\blanguage model\b|\bi (cannot|can''t|am unable)\b|\bexpert captioner\b)')
