"""Benchmark: the dataset card's vocabulary + MTLD pass against a textbook MTLD.

A synthetic caption corpus (CAPTIONS captions of 30-60 words drawn from a 3,000-word
vocabulary with a Zipf-like skew, seeded) is measured three ways:

* rsteller-db: ``LexicalAccumulator`` - streaming forward and backward passes that keep one
  running set per factor, as ``rsteller-db stats`` runs it;
* baseline: the textbook form - the whole token list in memory, the TTR of each factor
  recomputed from a slice at every token (``len(set(tokens[start:i + 1]))``);
* floor: tokenizing the captions twice and nothing else (what any pass has to pay).

Both measurements must agree to 1e-9; the figure is captions per second, printed as ratios.

    python bench/inspect_mtld.py                  # 100,000 captions
    python bench/inspect_mtld.py --captions 20000
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rsteller_db.inspect.lexical import MTLD_THRESHOLD, LexicalAccumulator, tokenize  # noqa: E402


def corpus(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(3000)]
    weights = [1 / (i + 1) for i in range(3000)]
    return [" ".join(rng.choices(words, weights, k=rng.randint(30, 60))) + "."
            for _ in range(n)]


def textbook_pass(tokens: list[str]) -> float:
    factors, start = 0.0, 0
    for i in range(len(tokens)):
        piece = tokens[start:i + 1]
        if len(set(piece)) / len(piece) <= MTLD_THRESHOLD:
            factors += 1
            start = i + 1
    rest = tokens[start:]
    if rest:
        factors += (1 - len(set(rest)) / len(rest)) / (1 - MTLD_THRESHOLD)
    return len(tokens) / factors if factors else float(len(tokens))


def textbook(texts: list[str]) -> float:
    tokens = [t for text in texts for t in tokenize(text)]
    return (textbook_pass(tokens) + textbook_pass(tokens[::-1])) / 2


def ours(texts: list[str]) -> float:
    acc = LexicalAccumulator()
    for text in texts:
        acc.add(text)
    for text in reversed(texts):
        acc.add_backward(text)
    return (acc.forward.value() + acc.backward.value()) / 2


def floor(texts: list[str]) -> int:
    return sum(len(tokenize(t)) for t in texts) + sum(len(tokenize(t)) for t in reversed(texts))


def timed(fn, texts):
    start = time.perf_counter()
    value = fn(texts)
    return value, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captions", type=int, default=100_000)
    args = parser.parse_args()
    texts = corpus(args.captions)
    value, t_ours = timed(ours, texts)
    expected, t_book = timed(textbook, texts)
    _, t_floor = timed(floor, texts)
    if abs(value - expected) > 1e-9:
        raise SystemExit(f"MTLD differs: rsteller-db {value!r} vs textbook {expected!r}")
    rate = args.captions / t_ours
    print(f"captions: {args.captions:,}  MTLD: {value:.2f} (both agree)")
    print(f"rsteller-db  {rate:12,.0f} captions/s  ({t_ours:.2f} s)")
    print(f"textbook     {args.captions / t_book:12,.0f} captions/s  ({t_book:.2f} s)"
          f"  -> rsteller-db is {t_book / t_ours:.2f}x the textbook")
    print(f"tokenize     {args.captions / t_floor:12,.0f} captions/s  ({t_floor:.2f} s)"
          f"  -> rsteller-db takes {t_ours / t_floor:.2f}x the tokenizing floor")


if __name__ == "__main__":
    main()
