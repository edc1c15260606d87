"""Vocabulary and lexical diversity of captions: tokens, vocabulary size and MTLD.

MTLD (McCarthy & Jarvis, 2010, "the measure of textual lexical diversity") walks the token
stream keeping the type-token ratio (TTR) of the current stretch; each time the TTR falls to
the threshold (0.72) a *factor* is complete and the stretch starts afresh. The leftover stretch
counts as a partial factor, (1 - TTR) / (1 - threshold). MTLD is tokens / factors, averaged
over a forward and a backward pass. Higher means more varied wording.

The stream is fed incrementally (``MtldPass.feed``), so a corpus of millions of captions is
measured without holding its tokens in memory: the backward pass is the forward pass over
the captions in reverse order, each caption's tokens reversed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

MTLD_THRESHOLD = 0.72
_TOKEN = re.compile(r"[a-z0-9]+(?:['’-][a-z0-9]+)*")


def tokenize(text: str | None) -> list[str]:
    """Lower-cased word tokens: letters and digits, keeping inner apostrophes and hyphens."""
    return _TOKEN.findall(text.lower()) if text else []


class MtldPass:
    """One directional MTLD pass over a token stream fed in pieces."""

    def __init__(self, threshold: float = MTLD_THRESHOLD):
        if not 0 < threshold < 1:
            raise ValueError("the MTLD threshold must be between 0 and 1")
        self.threshold = threshold
        self.tokens = 0
        self.factors = 0
        self._types: set[str] = set()
        self._count = 0

    def feed(self, tokens: Iterable[str]) -> None:
        types, count, limit = self._types, self._count, self.threshold
        for token in tokens:
            types.add(token)
            count += 1
            if len(types) / count <= limit:
                self.factors += 1
                types.clear()
                count = 0
            self.tokens += 1
        self._count = count

    def value(self) -> float:
        """Tokens per factor; the token count itself when the stream never repeats a word."""
        factors = float(self.factors)
        if self._count:
            ttr = len(self._types) / self._count
            factors += (1 - ttr) / (1 - self.threshold)
        if self.tokens == 0:
            return 0.0
        return self.tokens / factors if factors > 0 else float(self.tokens)


def mtld(tokens: Sequence[str], threshold: float = MTLD_THRESHOLD) -> float:
    """MTLD of a token sequence: the mean of the forward and the backward pass."""
    forward, backward = MtldPass(threshold), MtldPass(threshold)
    forward.feed(tokens)
    backward.feed(reversed(tokens))
    return (forward.value() + backward.value()) / 2


class LexicalAccumulator:
    """Token count, vocabulary and MTLD of a caption stream, in two passes.

    Feed every caption in order with ``add(text)``; then feed the same captions in reverse
    order with ``add_backward(text)``. ``result()`` returns (tokens, vocabulary, mtld).
    """

    def __init__(self, threshold: float = MTLD_THRESHOLD):
        self.vocabulary: set[str] = set()
        self.forward = MtldPass(threshold)
        self.backward = MtldPass(threshold)

    def add(self, text: str | None) -> None:
        tokens = tokenize(text)
        self.vocabulary.update(tokens)
        self.forward.feed(tokens)

    def add_backward(self, text: str | None) -> None:
        self.backward.feed(reversed(tokenize(text)))

    def result(self) -> tuple[int, int, float]:
        if self.backward.tokens != self.forward.tokens:
            raise ValueError("the backward pass must see the same captions as the forward pass")
        value = (self.forward.value() + self.backward.value()) / 2
        return self.forward.tokens, len(self.vocabulary), round(value, 2)
