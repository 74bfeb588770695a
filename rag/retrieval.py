"""Question ▶ ranked hits: dense (FAISS) and BM25 fused by reciprocal rank, plus a signal
that says whether the corpus covers the question at all.

Dense search finds paraphrases ("how fast does it kick in" ~ "rapid onset"); BM25 finds
rare exact terms (drug names, "NMDA"). Reciprocal-rank fusion needs no score calibration
between the two, which is why it is the default way to combine them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .embedding import Embedder
from .index_store import IndexStore
from .textnorm import words
from .types import Hit

_ANAPHORA = re.compile(
    r"\b(it|its|it's|this|that|these|those|they|them|their|there|he|she|one|ones|same|"
    r"above|former|latter)\b|^\s*(and|but|so|also|what about|how about|why|how come)\b",
    re.IGNORECASE,
)


_ORDINAL = re.compile(r"\b(?:the|that)\s+(first|second|third|fourth|fifth|1st|2nd|3rd|4th|5th|last|final|latter|"
                      r"former)\b"
                      r"|\b(?:number|no\.|item|point|#)\s*([1-9])\b", re.IGNORECASE)
_POSITION = {"first": 0, "1st": 0, "former": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3,
             "fifth": 4, "5th": 4, "last": -1, "final": -1, "latter": -1}


def list_items(text: str) -> list[str]:
    """The items of the longest enumeration in an answer ("A, B, and C"; "A; B; and C")."""
    best: list[str] = []
    for sentence in re.split(r"(?<=[.!?])\s+", re.sub(r"\s*\[\d+(?:\s*[,;]\s*\d+)*\]", "", text)):
        body = sentence.split(":", 1)[1] if ":" in sentence else sentence
        separator = ";" if ";" in body else ","
        depth, parts, current = 0, [], ""
        for char in body:
            depth += char == "("
            depth = max(0, depth - (char == ")"))  # "1) ..., 2) ..." numbers items without "("
            if char == separator and depth == 0:
                parts.append(current)
                current = ""
            else:
                current += char
        parts.append(current)
        if separator == "," and parts and " and " in parts[-1] and len(parts) == 2:
            parts = [parts[0], *parts[1].split(" and ", 1)]
        items = [re.sub(r"^\s*(?:(?:and|or)\s+)?(?:\d{1,2}[.)]\s*)?", "", p).strip(" .") for p in parts]
        items = [i for i in items if re.search(r"[A-Za-z]{3}", i)]
        if len(items) >= 2 and len(items) > len(best):
            best = items
    return best


def pointed_item(question: str, history: Sequence[Mapping[str, str]] = ()) -> str | None:
    """The item of the assistant's last answer that a follow-up points to ("the third one?")."""
    ordinal = _ORDINAL.search(question)
    answers = [t.get("content", "") for t in history if t.get("role") == "assistant" and t.get("content")]
    if not ordinal or not answers:
        return None
    items = list_items(answers[-1])
    position = _POSITION[ordinal.group(1).lower()] if ordinal.group(1) else int(ordinal.group(2)) - 1
    return items[position] if items and position < len(items) else None


_WHAT_ABOUT = re.compile(r"^\W*(?:(?:ok(?:ay)?|and|so|but|also|right)\W+)*(?:what|how) about\s+(?P<new>[^,?.!;]+?)"
                         r"(?:\W*(?:then|too|as well|instead))?\s*(?:[,?.!;]|$)", re.IGNORECASE)


def swap_subject(question: str, previous: str, embed=None) -> str | None:
    """"what about psychedelics?" after "How does ketamine help depression?" asks the same of
    something else: the earlier question with its closest word swapped ("How does psychedelics
    help depression?"). Needs an embedder to find the word; None when the follow-up is not one."""
    m = _WHAT_ABOUT.search(question)
    if not m or embed is None:
        return None
    new = m.group("new").strip()
    spans = [w for w in re.finditer(r"[A-Za-z][A-Za-z-]+", previous) if w.group(0).lower() not in _FUNCTION_WORDS]
    if not spans or not re.search(r"[A-Za-z]{3}", new):
        return None
    vectors = embed([new] + [w.group(0) for w in spans])
    closest = spans[int(np.argmax(vectors[1:] @ vectors[0]))]
    return previous[: closest.start()] + new + previous[closest.end():]


_FUNCTION_WORDS = frozenset("what which who how why when where does do did is are was were can could will would "
                            "should the a an and or of for to in on with about it its this that they them".split())


def retrieval_query(question: str, history: Sequence[Mapping[str, str]] = ()) -> str:
    """The text to search with: a follow-up that points into the last answer ("the third one?")
    borrows the item it points to; one that leans on earlier turns borrows the last user
    question ("how fast does it work?" after "tell me about ketamine")."""
    item = pointed_item(question, history)
    if item:
        return f"{item} {question}"
    previous = [t.get("content", "") for t in history if t.get("role") == "user" and t.get("content")]
    if not previous:
        return question
    words = re.findall(r"[A-Za-z0-9]+", question)
    if _ANAPHORA.search(question) or len(words) <= 4:
        return f"{previous[-1]} {question}"
    return question


def expand_query(query: str) -> str:
    """Add the article words that a patient's everyday words stand for ("contact" ▶ "visit")."""
    from .grounding import paraphrase_words

    extra = [w for word in words(query) for w in paraphrase_words().get(word, ())]
    return f"{query} {' '.join(extra)}" if extra else query


@dataclass
class Retrieval:
    query: str
    hits: list[Hit]
    best_dense: float
    answerable: bool
    timings_ms: dict[str, float] = field(default_factory=dict)
    query_vector: np.ndarray | None = None  # reused to rank sentences, so the query is embedded once
    focus: str = ""  # whose words a sentence must say: the question, or the answer item it points to
    pointed: str | None = None  # the item of the assistant's last answer a follow-up points to


class Retriever:
    """Hybrid retriever over one loaded index."""

    def __init__(self, store: IndexStore, embedder: Embedder, *, top_k: int = 4, candidates: int = 20,
                 rrf_k: int = 60, min_dense_score: float = 0.30, min_lexical_score: float = 2.0,
                 mode: str = "hybrid"):
        if mode not in {"hybrid", "dense", "bm25"}:
            raise ValueError("mode must be hybrid, dense or bm25")
        self.store, self.embedder, self.mode = store, embedder, mode
        self.top_k, self.candidates, self.rrf_k = top_k, candidates, rrf_k
        self.min_dense_score, self.min_lexical_score = min_dense_score, min_lexical_score
        self._bm25 = None

    # BM25 is built lazily: the first question pays ~ms per thousand chunks, ingest pays nothing.
    def _bm25_index(self):
        if self._bm25 is None:
            import bm25s
            import Stemmer

            self._stemmer = Stemmer.Stemmer("english")
            texts = [c.embed_text() for c in self.store.chunks]
            tokens = bm25s.tokenize(texts, stopwords="en", stemmer=self._stemmer, show_progress=False)
            self._bm25 = bm25s.BM25()
            self._bm25.index(tokens, show_progress=False)
            self._bm25_vocab = tokens.vocab
        return self._bm25

    def bm25_scores(self, query: str) -> np.ndarray:
        import bm25s

        index = self._bm25_index()
        tokens = bm25s.tokenize([expand_query(query)], stopwords="en", stemmer=self._stemmer,
                                return_ids=False, show_progress=False)[0]
        tokens = [t for t in tokens if t in self._bm25_vocab]
        if not tokens:
            return np.zeros(len(self.store.chunks), dtype=np.float32)
        return np.asarray(index.get_scores(tokens), dtype=np.float32)

    def search(self, question: str, history: Sequence[Mapping[str, str]] = ()) -> Retrieval:
        import time

        previous = [t.get("content", "") for t in history if t.get("role") == "user" and t.get("content")]
        pointed = pointed_item(question, history)
        swapped = swap_subject(question, previous[-1], self.embedder.embed) if previous and not pointed else None
        query = swapped or retrieval_query(question, history)
        focus = query if pointed or swapped else question  # the words an answer sentence should say
        n = len(self.store.chunks)
        if n == 0:
            return Retrieval(query, [], 0.0, False, focus=focus)
        t0 = time.perf_counter()
        qvec = self.embedder.embed([query])[0]
        t1 = time.perf_counter()
        cand = min(self.candidates, n)
        _, ids = self.store.search(qvec[None, :], cand)
        dense_rank = [int(i) for i in ids[0] if i >= 0]
        dense_scores = self.store.vectors @ qvec  # exact cosines for every chunk we may report
        lexical = np.zeros(n, dtype=np.float32)
        bm25_rank: list[int] = []
        if self.mode != "dense":
            lexical = self.bm25_scores(query)
            order = np.argsort(-lexical, kind="stable")[:cand]
            bm25_rank = [int(i) for i in order if lexical[i] > 0]
        t2 = time.perf_counter()
        fused: dict[int, float] = {}
        rankings = {"hybrid": (dense_rank, bm25_rank), "dense": (dense_rank,), "bm25": (bm25_rank,)}[self.mode]
        for ranking in rankings:
            for rank, row in enumerate(ranking):
                fused[row] = fused.get(row, 0.0) + 1.0 / (self.rrf_k + rank + 1)
        best = sorted(fused, key=lambda r: (-fused[r], -dense_scores[r]))[: self.top_k]
        hits = [Hit(self.store.chunks[r], fused[r], float(dense_scores[r]), float(lexical[r])) for r in best]
        best_dense = float(dense_scores.max())
        # Covered when the meaning is close, or when the question's rare words match strongly.
        answerable = best_dense >= self.min_dense_score or float(lexical.max()) >= self.min_lexical_score
        return Retrieval(query, hits, best_dense, answerable,
                         {"embed_query": (t1 - t0) * 1e3, "search": (t2 - t1) * 1e3}, qvec,
                         focus=focus, pointed=pointed)
