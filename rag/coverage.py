"""Does the corpus speak of what the question asks about?

Dense similarity alone cannot tell "how much does ketamine cost?" (not covered) from "what
is ketamine used for?" (covered): both are close to the ketamine passages. What differs is a
specific word the corpus never uses ("cost"). A question is covered when each of its
specific words is in the corpus, is a listed everyday paraphrase of a corpus word, or is
very close to a corpus word in embedding space ("shrooms" ~ "mushrooms").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

from .grounding import paraphrases
from .textnorm import FRAME_STEMS, STOPWORDS, stem, words

# Words that shape a question without naming what it is about.
QUESTION_FRAME = frozenset("""
tell explain know mean means meaning define definition thing things stuff get gets getting take takes
taking give gives good bad better best really actually exactly please thanks thank hi hello hey ok okay
anything something lot need needs want wondering wonder curious happen happens happening feel like
make makes made different difference between compare versus vs pros cons main key point points
overview summary info information much many long new current currently anyone everyone everybody
us guys doc talk talking go going idea whether kind sort sorts big deal real true work works
help helps use used using given cause causes after before during treat treats treating treated
involve involves involved role part problem problems issue issues
""".split())
QUESTION_FRAME_STEMS = frozenset(stem(w) for w in QUESTION_FRAME)
SOFT_MATCH = 0.68  # word-embedding cosine above which an unseen word counts as a corpus word


class CoverageChecker:
    def __init__(self, texts: Iterable[str], embedder=None, soft_match: float = SOFT_MATCH):
        vocab = {w for t in texts for w in words(t) if w not in STOPWORDS and re.search(r"[a-z]", w)}
        self.vocab = sorted(vocab)
        self.stems = frozenset(stem(w) for w in self.vocab)
        self.embedder, self.soft_match = embedder, soft_match
        self._vectors: np.ndarray | None = None

    def _soft(self, unseen: list[str]) -> set[str]:
        """The unseen words that are near-synonyms of some corpus word."""
        if not unseen or self.embedder is None or not self.vocab:
            return set()
        if self._vectors is None:
            self._vectors = self.embedder.embed(self.vocab)
        sims = self.embedder.embed(unseen) @ self._vectors.T
        return {w for w, row in zip(unseen, sims, strict=True) if float(row.max()) >= self.soft_match}

    def uncovered(self, question: str) -> list[str]:
        """Specific words of the question that the corpus does not speak of."""
        table = paraphrases()
        unseen = []
        for w in words(question):
            if w in STOPWORDS or w == "n't" or not re.search(r"[a-z]", w):
                continue
            s = stem(w)
            if s in self.stems or s in FRAME_STEMS or s in QUESTION_FRAME_STEMS:
                continue
            if table.get(s, frozenset()) & self.stems:
                continue
            unseen.append(w)
        unseen = list(dict.fromkeys(unseen))
        near = self._soft(unseen)
        return [w for w in unseen if w not in near]
