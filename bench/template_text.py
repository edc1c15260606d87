"""Template captions: lexical diversity (MTLD, as the dataset card computes it) and sentence
frames of the template back end's Task 1/2 captions and Task 3 revisions, on the bundled
sample's caption requests (tests/data/verifier_payloads.json holds them) or on a warehouse.

A sentence's *frame* is the sentence with the facts of its payload taken out: the element's
name and kind words, position, size, shape, course and length phrases, place and feature
names and numbers become slots, so "A park lies in the center." and "A pond lies in the top
corner." share a frame. Reported: MTLD over all captions, distinct frames, and the mean number
of distinct frames per caption's sentence slot (position in the caption).

    python bench/template_text.py                     # the sample's 19 requests, 3 seeds
    python bench/template_text.py --warehouse warehouse/rsteller.duckdb
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rsteller_db.caption.backends import BackendOptions, Job, create_backend  # noqa: E402
from rsteller_db.inspect.lexical import LexicalAccumulator  # noqa: E402

SENTENCE = re.compile(r"(?<=[.!?])\s+")


def fact_strings(payload: dict) -> list[str]:
    facts = payload.get("facts") or payload
    out = []

    def walk(value):
        if isinstance(value, str) and len(value) > 1:
            out.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk({k: facts.get(k) for k in ("element", "geometry", "patch")})
    return sorted(set(out), key=len, reverse=True)


def frame(sentence: str, facts: list[str]) -> str:
    text = sentence.lower()
    for fact in facts:
        text = text.replace(fact.lower(), "<f>")
    return re.sub(r"\d[\d,.]*", "<n>", text)


def sample_payloads(warehouse: str | None) -> list[dict]:
    if warehouse:
        import duckdb

        with duckdb.connect(warehouse, read_only=True) as con:
            rows = con.execute("select payload from caption_requests order by 1").fetchall()
        return [json.loads(r[0]) for r in rows]
    data = json.loads((ROOT / "tests" / "data" / "verifier_payloads.json").read_text())
    return [p for _, p in sorted(data.items()) if not 9000 <= p["patch"]["patch_id"] < 10000]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse")
    parser.add_argument("--seeds", type=int, default=3, help="seeds (runs) per request")
    args = parser.parse_args()
    backend = create_backend("template", BackendOptions())
    backend.start()
    payloads = sample_payloads(args.warehouse)
    for seed in range(1, args.seeds + 1):
        lexical = LexicalAccumulator()
        texts, frames, per_slot = [], set(), defaultdict(set)
        for payload in payloads:
            first = backend.generate([Job("k", payload["task"], "", seed, payload)])[0].text
            revision_payload = {"caption": first, "facts": payload}
            second = backend.generate([Job("r", 3, "", seed + 1000, revision_payload)])[0].text
            for kind, text in (("t12", first), ("t3", second)):
                texts.append(text)
                facts = fact_strings(payload)
                for i, sentence in enumerate(SENTENCE.split(text)):
                    f = frame(sentence, facts)
                    frames.add(f)
                    per_slot[(kind, i)].add(f)
        for text in texts:
            lexical.add(text)
        for text in texts[::-1]:
            lexical.add_backward(text)
        tokens, vocabulary, mtld = lexical.result()
        mean_slot = sum(len(v) for v in per_slot.values()) / len(per_slot)
        print(f"seed {seed}: {len(texts)} captions, {tokens} tokens, vocabulary {vocabulary}, "
              f"MTLD {mtld:.1f}, distinct frames {len(frames)}, "
              f"mean distinct frames per sentence slot {mean_slot:.2f}")


if __name__ == "__main__":
    main()
