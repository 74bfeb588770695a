"""The grounding check: nothing the model writes reaches a patient unless its source says it.

Each answer sentence is checked against the source it cites by the meaning-level claim check
(``rag.verify``): the sentence must read off one clause of one source sentence, in order, with
its hedges, conditions, negations and numbers kept and nothing stronger added. A sentence that
fails against its cited source is re-cited to another retrieved source that supports it;
otherwise it is dropped. If nothing survives, the answer is extractive: the source sentences
most relevant to the question, quoted verbatim. ``lexical_support`` is the vocabulary check it
replaced, kept so the claim benchmark can print both side by side.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from .chunking import sentences_of, split_sentences
from .textnorm import FRAME_STEMS, content_stems, has_negation, numbers, stem
from .types import Chunk

_MARKER = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_LEAD_IN = re.compile(r"^(according to (the )?(sources?|article)( \d+)?,?|(the )?sources? \d* ?(says?|states?),?)\s*",
                      re.IGNORECASE)
_LIST_PREFIX = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*•])\s+")
MAX_SENTENCES = 2
MIN_CLAIM_WORDS = 3  # "Challenges." or "Psychedelic therapies." is a fragment, not an answer


@lru_cache(maxsize=1)
def paraphrase_words() -> dict[str, tuple[str, ...]]:
    """Everyday word ▶ the article words it may stand for, as written in the data file."""
    data = tomllib.loads((Path(__file__).parent / "data" / "paraphrases.toml").read_text(encoding="utf-8"))
    return {w: tuple(t) for w, t in data["words"].items()}


@lru_cache(maxsize=1)
def paraphrases() -> dict[str, frozenset[str]]:
    """Stem of an everyday word ▶ stems of the article words it may stand for."""
    out: dict[str, set[str]] = {}
    for word, targets in paraphrase_words().items():
        out.setdefault(stem(word), set()).update(stem(t) for t in targets)
    return {k: frozenset(v) for k, v in out.items()}


def covered(token: str, source: set[str]) -> bool:
    """A stem is supported by a source when the source has it, a listed synonym, or it is framing."""
    if token in source or token in FRAME_STEMS:
        return True
    return bool(paraphrases().get(token, frozenset()) & source)


@dataclass(frozen=True)
class Support:
    ok: bool
    reason: str
    coverage: float
    span: tuple[int, int] | None = None  # document offsets of the quote that supports it


def lexical_support(sentence: str, chunk: Chunk) -> Support:
    """The vocabulary check this module used before the meaning-level verifier: every content
    word, number and negation of ``sentence`` is in ``chunk``. Kept to measure the new check
    against (``rag.verify.benchmark``); it accepts false sentences made of the source's words."""
    claim = content_stems(sentence)
    if not claim:
        return Support(False, "no content", 0.0)
    source_text = f"{chunk.heading} {chunk.text}"
    source = set(content_stems(source_text))
    missing = [t for t in claim if not covered(t, source)]
    coverage = 1 - len(missing) / len(claim)
    if missing:
        return Support(False, f"unsupported words: {', '.join(sorted(set(missing)))}", coverage)
    novel_numbers = numbers(sentence) - numbers(source_text)
    if novel_numbers:
        return Support(False, f"numbers not in source: {', '.join(sorted(novel_numbers))}", coverage)
    span = best_span(claim, chunk)
    quote = _doc_slice(chunk, span)
    if has_negation(sentence) != has_negation(quote):
        return Support(False, "negation differs from the source", coverage)
    return Support(True, "supported", coverage, span)


def check_support(sentence: str, chunk: Chunk) -> Support:
    """Is ``sentence`` supported by ``chunk``? The meaning-level verifier decides (``rag.verify``);
    the quote is the chunk sentence that supports it."""
    from .verify import verify

    result = verify(sentence, chunk.text)
    coverage = _coverage(sentence, chunk)
    if not result.supported or result.span is None:
        return Support(False, result.reason, coverage)
    return Support(True, "supported", coverage, (chunk.start + result.span[0], chunk.start + result.span[1]))


def _coverage(sentence: str, chunk: Chunk) -> float:
    """Share of the sentence's content words the chunk has: ranks failed re-citation attempts."""
    claim = content_stems(sentence)
    source = set(content_stems(f"{chunk.heading} {chunk.text}"))
    return 1 - sum(1 for t in claim if not covered(t, source)) / len(claim) if claim else 0.0


def _doc_slice(chunk: Chunk, span: tuple[int, int]) -> str:
    return chunk.text[span[0] - chunk.start : span[1] - chunk.start]


def best_span(claim: Sequence[str], chunk: Chunk) -> tuple[int, int]:
    """Shortest run of consecutive chunk sentences covering the most claim words."""
    sents = sentences_of(chunk) or [(chunk.start, chunk.end)]
    stems = [set(content_stems(_doc_slice(chunk, s))) | set(content_stems(chunk.heading)) for s in sents]
    want = set(claim)
    best, best_key = (sents[0][0], sents[-1][1]), (-1, 0)
    for i in range(len(sents)):
        have: set[str] = set()
        for j in range(i, len(sents)):
            have |= stems[j]
            hit = sum(1 for t in want if covered(t, have))
            key = (hit, -(sents[j][1] - sents[i][0]))
            if key > best_key:
                best, best_key = (sents[i][0], sents[j][1]), key
    return best


@dataclass(frozen=True)
class Claim:
    """One answer sentence and the source passage that supports it."""

    text: str  # the sentence without citation markers
    source: int  # index into the sources list
    span: tuple[int, int]  # document offsets of the verbatim quote


@dataclass
class Grounded:
    claims: list[Claim] = field(default_factory=list)
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (sentence, why)


def split_answer(text: str) -> list[tuple[str, list[int]]]:
    """Model output ▶ (sentence without markers, cited source numbers) pairs."""
    pieces: list[tuple[str, list[int]]] = []
    for line in text.split("\n"):
        line = _LIST_PREFIX.sub("", line.strip())
        if not line:
            continue
        for s, e in split_sentences(line):
            sentence = line[s:e]
            cited = [int(n) for m in _MARKER.finditer(sentence) for n in re.split(r"[,;]", m.group(1))]
            bare = _MARKER.sub("", sentence).strip()
            if pieces and not re.search(r"[A-Za-z0-9]", bare):  # a stray "[2]" after the full stop
                prev_text, prev_cited = pieces[-1]
                pieces[-1] = (prev_text, prev_cited + cited)
                continue
            bare = _LEAD_IN.sub("", bare).strip()
            if bare:
                bare = bare[0].upper() + bare[1:]
                pieces.append((bare, cited))
    return pieces


class Grounder:
    """Checks answer sentences one at a time, so a streamed answer can be released sentence
    by sentence as each one passes."""

    def __init__(self, sources: Sequence[Chunk], max_sentences: int = MAX_SENTENCES):
        self.sources, self.max_sentences = list(sources), max_sentences
        self.result = Grounded()
        # Headings and list-item labels ("Rapid Onset of Action") name a topic; they claim nothing.
        self._labels = {c.heading.lower() for c in self.sources if c.heading}
        self._labels |= {c.text.split(":", 1)[0].lower() for c in self.sources if ":" in c.text[:80]}

    @property
    def full(self) -> bool:
        return len(self.result.claims) >= self.max_sentences

    def _strip_headings(self, sentence: str) -> str:
        """Models copy "Heading: text" from the prompt; the heading is a label, not a claim."""
        for heading in {c.heading for c in self.sources if c.heading}:
            prefix = heading.lower() + ":"
            rest = sentence[len(prefix):].strip()
            if sentence.lower().startswith(prefix) and rest:
                return rest[0].upper() + rest[1:]
        return sentence

    def feed(self, sentence: str, cited: Sequence[int]) -> Claim | None:
        """The supported claim for this sentence (re-cited if need be), or None if dropped."""
        if self.full:
            return None
        sentence = self._strip_headings(sentence)
        if (sentence.rstrip().endswith(":") or len(content_stems(sentence)) < MIN_CLAIM_WORDS
                or sentence.rstrip(" .!?").lower() in self._labels):
            self.result.dropped.append((sentence, "says nothing on its own"))
            return None
        order = [n - 1 for n in cited if 1 <= n <= len(self.sources)]
        order += [i for i in range(len(self.sources)) if i not in order]  # repair: try the others
        verdict, chosen = None, None
        for i in order:
            support = check_support(sentence, self.sources[i])
            if support.ok:
                verdict, chosen = support, i
                break
            if verdict is None or support.coverage > verdict.coverage:
                verdict = support
        if chosen is None or verdict is None or verdict.span is None:
            self.result.dropped.append((sentence, verdict.reason if verdict else "no sources"))
            return None
        if any(_same(sentence, c.text) for c in self.result.claims):
            self.result.dropped.append((sentence, "repeats an earlier sentence"))
            return None
        claim = Claim(sentence, chosen, verdict.span)
        self.result.claims.append(claim)
        return claim


def ground(answer_text: str, sources: Sequence[Chunk], max_sentences: int = MAX_SENTENCES) -> Grounded:
    """Keep the sentences their (possibly corrected) source supports; drop the rest."""
    grounder = Grounder(sources, max_sentences)
    for sentence, cited in split_answer(answer_text):
        grounder.feed(sentence, cited)
    return grounder.result


LEXICAL_WEIGHT = 0.35  # how much the question's own words count beside embedding similarity
HUB_NEIGHBOURS = 5  # nearest sentences a sentence's hubness is measured on
HUB_WEIGHT = 0.5  # how much a sentence's nearness to the whole corpus counts against it


def _overlap(asked: Sequence[str], text: str) -> float:
    """Share of the question's content words that the text says (or paraphrases)."""
    if not asked:
        return 0.0
    have = set(content_stems(text))
    return sum(1 for t in asked if covered(t, have)) / len(asked)


def _same(a: str, b: str) -> bool:
    sa, sb = set(content_stems(a)), set(content_stems(b))
    return bool(sa) and len(sa & sb) / len(sa | sb) > 0.8


@dataclass(frozen=True)
class Scored:
    score: float
    source: int
    span: tuple[int, int]
    text: str
    heading: str = ""  # the section heading it was ranked with ("" under the article's title)


def sentence_hubness(chunks: Sequence[Chunk], embed, k: int = HUB_NEIGHBOURS) -> dict[str, float]:
    """How much each sentence of the corpus is like the rest of it: the mean cosine to its ``k``
    nearest other sentences, less the corpus median. A framing sentence ("In recent years there
    has been growing interest in ketamine and psychedelic therapies ...") is near everything, so
    it is near every question too, and led answers it does not give; discounting it in the
    ranking (the hubness correction of CSLS, Conneau et al. 2018) lets the sentence that says
    something specific lead. Computed once, when the pipeline is built."""
    texts = list(dict.fromkeys(_doc_slice(c, span) for c in chunks for span in sentences_of(c)))
    if len(texts) <= k:
        return {}
    vecs = np.asarray(embed(texts))
    sims = vecs @ vecs.T
    np.fill_diagonal(sims, -np.inf)
    near = np.sort(sims, axis=1)[:, -k:].mean(axis=1)
    return dict(zip(texts, (near - float(np.median(near))).tolist(), strict=True))


def rank_sentences(question_vec: np.ndarray | None, sources: Sequence[Chunk], embed=None,
                   question: str = "", titles: Mapping[str, str] | None = None,
                   hubness: Mapping[str, float] | None = None) -> list[Scored]:
    """Every sentence of the sources, best first, scored for relevance to the question.

    Cosine similarity to the question (when an embedder is given) plus the share of the
    question's own words the sentence says: meaning and wording both count. A sentence is read
    with its section heading, but not with the article's title (``titles``: doc id ▶ title),
    which names the whole article's topic: read with it, the opening lines matched every
    question about ketamine or psychedelics. A sentence near the whole corpus is discounted by
    its ``hubness`` (``sentence_hubness``).
    """
    titles = titles or {}
    heads = ["" if c.heading == titles.get(c.doc_id) else c.heading for c in sources]

    candidates: list[tuple[int, tuple[int, int], str]] = []
    for i, chunk in enumerate(sources):
        for span in sentences_of(chunk):
            if chunk.text[span[1] - chunk.start - 1] == ":":  # "Key points include:" says nothing
                continue
            candidates.append((i, span, _doc_slice(chunk, span)))
    if not candidates:
        return []
    asked = [t for t in content_stems(question) if t not in FRAME_STEMS]
    overlap = np.array([_overlap(asked, f"{heads[i]} {t}") for i, _, t in candidates])
    if embed is not None and question_vec is not None:
        texts = [f"{heads[i]}: {t}" if heads[i] else t for i, _, t in candidates]
        scores = embed(texts) @ question_vec + LEXICAL_WEIGHT * overlap
        if hubness:
            scores = scores - HUB_WEIGHT * np.array([max(hubness.get(t, 0.0), 0.0) for _, _, t in candidates])
    else:
        scores = overlap
    order = np.argsort(-scores, kind="stable")
    return [Scored(float(scores[k]), *candidates[k], heads[candidates[k][0]]) for k in order]


def extractive(ranked: Sequence[Scored], sources: Sequence[Chunk], max_sentences: int = 3,
               margin: float = 0.12) -> list[Claim]:
    """The best sentence, and the next ones nearly as good, verbatim, in document order."""
    if not ranked:
        return []
    picked = [Claim(r.text, r.source, r.span) for r in ranked[:max_sentences]
              if r.score >= ranked[0].score - margin]
    picked.sort(key=lambda c: (sources[c.source].doc_id, c.span[0]))
    return picked


def relevance(claim: Claim, ranked: Sequence[Scored]) -> float:
    """How relevant a claim's quote is: the best score of the sentences it quotes."""
    inside = [r.score for r in ranked if r.source == claim.source
              and claim.span[0] <= r.span[0] and r.span[1] <= claim.span[1]]
    return max(inside, default=0.0)
