-- rule: assistant_chatter
-- tasks: 1,2,3
-- why: the model speaks as a chat assistant or about its own writing ("I'm ready to help you",
--      "as an AI", "this is a description of", "an example of"): a caption describes the scene
--      in the third person and never talks about itself or about the text it writes.
select caption_id
from caption_candidates
where regexp_matches(text, '(?i)(\bI(''m| am| can| will|''ll| would)\b|\bAI\b|\blanguage model\b|\bhelp you\b|\b(a|this) (factual )?description of\b|\ban example of\b|\bpublic map\b)')
