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


def retrieval_query(question: str, history: Sequence[Mapping[str, str]] = ()) -> str:
    """The text to search with: a follow-up that leans on earlier turns borrows the last
    user question ("how fast does it work?" after "tell me about ketamine")."""
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

        query = retrieval_query(question, history)
        n = len(self.store.chunks)
        if n == 0:
            return Retrieval(query, [], 0.0, False)
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
                         {"embed_query": (t1 - t0) * 1e3, "search": (t2 - t1) * 1e3}, qvec)
