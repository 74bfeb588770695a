"""One answerability decision: does a retrieved sentence state what the question asks for?

The decision is made on what the question *asks for*, not on whether every word of it appears
in the articles. Three things are read off the question:

- its **focus terms**: words naming something the articles never mention ("Spravato",
  "nausea", "Canada"). Typos are corrected first ("adiction" ▶ "addiction"), everyday words
  are not terms, and a term in a slot the question offers as an alternative or a guess to
  check ("PTSD *or schizophrenia*?", "is psilocybin *an opioid*?", "work by blocking
  *dopamine*, correct?") is not the focus: the article's own statement answers it;
- the **kind of answer** it wants (a duration, a count, an amount, a share, an age, what the
  clinic itself offers): a sentence must state one, about the thing measured ("how long is a
  *session*" is not answered by how fast the effects come);
- the **evidence**: the retrieved sentences closest in meaning, never a lead-in
  ("In this article, we will explore ..."), a bare heading or a link; for "what is X?" the
  sentence that says what X is comes first.

The decision carries its reason, so a wrong refusal can be read and fixed.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from .grounding import Scored, paraphrases
from .textnorm import NUMBER_WORDS, SHORTHAND, STOPWORDS, content_stems, stem, words

SOFT_MATCH = 0.68  # word-embedding cosine above which an unseen word counts as a corpus word
EVIDENCE_WINDOW = 5  # top-ranked sentences searched for the asked kind of answer
MIN_TYPO_LENGTH = 4  # shorter words are too ambiguous to correct
MIN_TWO_EDIT_LENGTH = 8  # words this long may be two slips from the corpus word meant


@dataclass(frozen=True)
class Decision:
    """Whether the articles answer the question, why, and the sentences that do."""

    answerable: bool
    reason: str
    evidence: tuple[Scored, ...] = ()
    asks: str | None = None  # the kind of answer asked for, when the question names one
    terms: tuple[str, ...] = field(default=())  # the off-article words the question is about


# --- word data ------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _data() -> dict:
    return tomllib.loads((Path(__file__).parent / "data" / "topics.toml").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def topic_words() -> frozenset[str]:
    """Properties patients ask a clinic about (price, approval, side effects, ...): asking about
    one is asking for a statement the articles must make."""
    return frozenset(w.lower() for group in _data()["topics"].values() for w in group)


@lru_cache(maxsize=1)
def entity_words() -> frozenset[str]:
    """Other treatments and products: named things, like capitalised names."""
    return frozenset(w.lower() for w in _data().get("entities", {}).get("treatments", []))


@lru_cache(maxsize=1)
def generic_words() -> frozenset[str]:
    """Everyday words that frame a question without naming what it is about."""
    return frozenset(_data().get("generic", {}).get("words", []))


@lru_cache(maxsize=1)
def _speller():
    """An English dictionary with word frequencies (pyspellchecker), or None if not installed."""
    try:
        from spellchecker import SpellChecker
    except ImportError:
        return None
    return SpellChecker(distance=1)


# --- what the question asks for -------------------------------------------------------------
_ASKS = {  # kind ▶ how a question asks for it
    "duration": re.compile(r"\bhow long\b|\bfor how many (?:hours|days|weeks|months|years)\b|"
                           r"\bhow many (?:minutes|hours|days|weeks|months|years)\b", re.IGNORECASE),
    "amount": re.compile(r"\b(?:what|which|how much|normal|usual|typical|right|starting|standard)\s+"
                         r"(?:\w+\s+)?(?:doses?|dosages?|amount|mg|milligrams)\b|\bhow much\b.*\b(?:take|give|get)\b|"
                         r"\b(?:in|how many) (?:mg|milligrams|micrograms|mcg|ml)\b", re.IGNORECASE),
    "share": re.compile(r"\b(?:what|which) (?:percentage|percent|proportion|share|fraction|%)(?!\w)|"
                        r"\bhow many (?:out of|in (?:ten|10|a hundred|100))\b|\bsuccess rate\b|"
                        r"\b(?:odds|chances?) (?:of|that)\b", re.IGNORECASE),
    "age": re.compile(r"\bhow old\b|\btoo (?:old|young)\b|\bage (?:limit|range|requirement|restriction|cut-?off)s?\b|"
                      r"\b(?:minimum|maximum|upper|lower|youngest|oldest|right) age\b|\b\d+[- ]years?[- ]old\b|"
                      r"\b(?:at )?what age\b", re.IGNORECASE),
    "count": re.compile(r"\bhow (?:many|often|frequently)\b|\bhow much\b", re.IGNORECASE),
    "service": re.compile(r"\b(?:do|does|can|will|would)\s+(?:you|y'?all|your (?:clinic|practice|team|office|doctors?)|"
                          r"the (?:clinic|practice|doctor)|dr\.?\s+\w+)\s+(?:\w+\s+)?(?:offer|provide|prescribe|"
                          r"accept|treat|sell|run|perform|administer)s?\b|"
                          r"\b(?:do|does) (?:you|y'?all|you (?:guys|all)|your \w+|the clinic)"
                          r" (?:guys |all )?do\b", re.IGNORECASE),
}
_NUM = r"\d|\b(?:" + "|".join(sorted(NUMBER_WORDS)) + r"|dozens?|hundreds|thousands|millions|several|few)\b"
_STATES = {  # kind ▶ what a sentence that states it contains
    "duration": re.compile(_NUM + r"|\b(?:minutes?|hours?|days?|weeks?|months?|years?|decades?)\b", re.IGNORECASE),
    "amount": re.compile(r"\d+(?:\.\d+)?\s*(?:mg|milligrams?|micrograms?|mcg|g|ml|units?)\b|"
                         r"\b(?:\d+|one|two|three|four|five|six) (?:doses|infusions|sessions)\b", re.IGNORECASE),
    "share": re.compile(r"\d+(?:\.\d+)?\s*(?:%|percent)|\b(?:half|a third|a quarter|most|majority|minority)\b|"
                        r"\b\d+ (?:in|out of) \d+\b", re.IGNORECASE),
    "age": re.compile(r"\b(?:aged?|years? old|older adults|elderly|adolescents?|children|teen(?:ager)?s?|"
                      r"young (?:people|adults))\b", re.IGNORECASE),
    "count": re.compile(_NUM, re.IGNORECASE),
    "service": re.compile(r"\b(?:we|our (?:clinic|practice|team)|this (?:clinic|practice))\s+(?:\w+\s+)?(?:offer|"
                          r"provide|treat|prescribe|accept|see|run)s?\b", re.IGNORECASE),
}
# Kinds of answer a sentence should state to come first, without refusing when none does.
_PREFERS = {
    "mechanism": (
        re.compile(r"\bhow (?:does|do|did|would|will|could|can) (?:[\w'-]+\s+){0,4}?(?:work|act)s?\b|"
                   r"\b(?:works?|acts?|working) (?:by|like|through|on)\b|\bmechanisms?\b|\bwhat'?s it doing\b|"
                   r"\bwhat (?:does|do) (?:it|they|[\w-]+) do (?:to|in|inside) "
                   r"(?:the |your |my |our )?(?:brain|head|body)\b|"
                   r"\b(?:in|to) (?:the|your|my) (?:brain|head)\b|\bup there\b", re.IGNORECASE),
        re.compile(r"^\W*mechanisms? of action\b|\bacts? (?:primarily |mainly |mostly )?(?:as|on|by)\b|\breceptors?\b|"
                   r"\b(?:by|through) (?:modulating|blocking|increasing|boosting|binding|inhibiting|enhancing|"
                   r"stimulating|changing)\b|\bneurotransmitters?\b|\bsynaptic\b", re.IGNORECASE)),
    "comparison": (
        re.compile(r"\bvs\.?\b|\bversus\b|\bcompared? (?:to|with)\b|\bdifferen(?:ce|t) (?:between|from)\b|"
                   r"\b(?:better|worse|faster|slower|safer) than\b", re.IGNORECASE),
        re.compile(r"\bunlike\b|\bcompared (?:to|with)\b|\bthan\b|\bwhereas\b|\bdiffers?\b", re.IGNORECASE)),
}
PREFER_WINDOW = 8  # near sentences searched for one of the preferred kind
SCORED_WINDOW = 6  # nearest sentences the answer scorer reads
ANSWER_WEIGHT = 0.5  # in the evidence order, the answer scorer's share beside the ranking score
ASK_NAMES = {"duration": "a duration", "amount": "an amount or dose", "share": "a share or rate", "count": "a number",
             "age": "an age", "service": "what the clinic itself offers"}


def asks_for(question: str) -> str | None:
    """The kind of answer a question names: "duration", "amount", "share", "count" or None."""
    for kind, pattern in _ASKS.items():
        if pattern.search(question):
            return kind
    return None


def states(text: str, kind: str) -> bool:
    """Whether a sentence states an answer of the asked kind."""
    return bool(_STATES[kind].search(re.sub(r"\b\d+,\d+-\w+", "", text)))  # "3,4-methylene..." is a name


_SIGNPOST = re.compile(
    r"\b(?:in|through(?:out)?) this (?:article|post|blog|page|piece|guide)\b|\bwe will (?:explore|discuss|look|examine|"
    r"cover|review|describe)\b|\bthis (?:article|post) (?:will|explores|discusses|covers|looks)\b|"
    r"\b(?:key points|highlights) (?:about|of|include)\b|^https?://\S*$|\bsimilar posts\b",
    re.IGNORECASE)
# A page's contact footer ("For any further queries, visit example.com or our social media"):
# evidence only for a question about reaching the clinic.
_CONTACT = re.compile(
    r"\b(?:visit|see|check)\s+(?:us\s+at\s+)?(?:www\.)?[a-z0-9-]+\.(?:com|org|net|in|co|uk|health)\b|"
    r"\bsocial media (?:accounts?|pages?|handles?)\b|\b(?:contact|call|email) us\b|"
    r"\bany further (?:queries|questions)\b",
    re.IGNORECASE)
_ASKS_CONTACT = re.compile(
    r"\b(?:contact|reach|get in touch|call|phone|e-?mail|website|site|web ?page|social media|instagram|facebook|"
    r"online|address|book|appointment)\b|\b(?:more|further|other|own|my) (?:questions|queries)\b|"
    r"\bwhere (?:can|do|should) (?:i|we) (?:go|ask|find|write|send)\b", re.IGNORECASE)


def is_signpost(text: str) -> bool:
    """A sentence about the article itself, a list lead-in, a bare heading or link: never evidence."""
    stripped = text.strip()
    if not stripped or stripped.endswith(":") or _SIGNPOST.search(stripped):
        return True
    return len(re.findall(r"[A-Za-z]+", stripped)) < 4


# --- the question's own terms ----------------------------------------------------------------
_WORD_SPAN = re.compile(r"[A-Za-z][A-Za-z'-]*")
_CONFIRM = re.compile(r"(?:\b(?:right|correct|true|yes|yeah|yep|ok(?:ay)?|innit|huh|am i right|isn'?t (?:it|that)|"
                      r"aren'?t they|is(?:n'?t)? that (?:so|true|right)|no)\s*\??\s*$)|"
                      r"^\s*(?:so\s+)?(?:is|are|was|were)\s+\S+(?:\s+\S+)?\s+(?:an?|another|the same as|like)\b",
                      re.IGNORECASE)
_COPULA = re.compile(r"\b(?:is|are|was|were|works?|acts?|means?)\b", re.IGNORECASE)


def _names(question: str) -> set[str]:
    """Acronyms and capitalised words that do not start a sentence, lower-cased."""
    out = set()
    for m in _WORD_SPAN.finditer(question):
        token = m.group(0).rstrip("'")
        before = question[: m.start()].rstrip()
        starts_sentence = not before or before[-1] in ".!?:\"“("
        if len(token) >= 2 and (token.isupper() or (token[0].isupper() and not starts_sentence)):  # not "I"
            out.add(token.lower())
    return out


Span = tuple[int, int]


_PREPOSITION = re.compile(r"(?:for|on|in|as|with|by|to|from|at|about|against)$", re.IGNORECASE)


def _choices(question: str) -> list[tuple[Span, Span]]:
    """The two alternatives of each "X or Y" the question offers ("for PTSD or for insomnia",
    "PTSD or high blood pressure"). If the articles speak of one, their statement answers it,
    whatever the other names. Alternatives are parallel: a right side that starts with a
    preposition pairs with the left from the same preposition; otherwise the left is one word."""
    out = []
    for m in re.finditer(r"\bor\b", question, re.IGNORECASE):
        end = re.search(r"[?,.;!]|$", question[m.end():])
        right = (m.end(), m.end() + end.start())
        before = list(_WORD_SPAN.finditer(question, 0, m.start()))
        if not before:
            continue
        first = re.match(r"\s*([A-Za-z]+)", question[m.end():])
        start = before[-1].start()
        if first and _PREPOSITION.match(first.group(1)):
            same = [w for w in before if w.group(0).lower() == first.group(1).lower()]
            if same:
                start = same[-1].start()
        out.append(((start, m.start()), right))
    return out


def _guess(question: str) -> Span | None:
    """What a question offers as a guess to check: "is X *an opioid*?", "X works *by blocking
    dopamine*, correct?" (the article's statement of what X is or does answers it)."""
    if not _CONFIRM.search(question):
        return None
    verbs = list(_COPULA.finditer(question))
    if not verbs:
        return None
    return (verbs[0].end() if verbs[0].start() > 0 else _second_word_end(question), len(question))


# Where a patient heard something: "I read online that", "my cousin saw on TikTok that", "people
# keep saying on reddit that". The source is not what the question asks about.
_REPORTED = re.compile(
    r"\b(?:i|we|my \w+|someone|somebody|people|everyone|everybody|they)\s+(?:have\s+|has\s+|keeps?\s+)?"
    r"(?:read|heard|hearing|saw|seen|seeing|was told|were told|says?|said|saying)\s+"
    r"(?:[\w'-]+\s+){0,4}?(?:that|about)\b",
    re.IGNORECASE)
_DO = r"(?:does|do|did|will|would|should|can|could|must)"
_MEASURED = re.compile(
    r"\bhow (?:long|many|much|often)\s+(?P<what>(?:[\w'-]+\s+){0,4}?)(?P<aux>is|are|was|were|has|have|" + _DO[3:-1] +
    r")\s+(?P<subject>(?:[\w'-]+\s*){0,6}?)(?:\s+(?P<verb>last|lasts|take|takes|run|go|be|stay|need|cost|keep|work|"
    r"have|get|do)\b|[?.!,]|$)", re.IGNORECASE)
_TRAILING_MEASURE = re.compile(r"^\W*(?P<what>(?:[\w'-]+\s+){1,4}?)how (?:long|many|much)\W*$", re.IGNORECASE)
_AFTER_HEAD = re.compile(r"\s(?:around|in|of|for|with|at|on|to|from|across|per|before|after|until)\b", re.IGNORECASE)


def _measured(question: str) -> str:
    """What a quantity question measures: "how many *ketamine sessions* will I need", "how long
    does *a single infusion session* last", "how many hours is *a treatment visit*", "how many
    people does *depression* affect"."""
    m = _MEASURED.search(question)
    if not m:
        trailing = _TRAILING_MEASURE.search(question)  # "ketamine session how long"
        if not trailing:
            return ""
        generic = {stem(w) for w in generic_words()}
        return " ".join(w for w in trailing.group("what").split() if stem(w) not in generic)
    generic = {stem(w) for w in generic_words()}
    what = _AFTER_HEAD.split(f" {m.group('what')}")[0].strip()
    if any(stem(w) not in generic for w in words(what)):
        return what  # "how many ketamine sessions ...": the thing counted
    subject = _AFTER_HEAD.split(f" {m.group('subject')}")[0].strip()
    if re.match(r"(?:i|you|we|they|it|he|she)\b", subject, re.IGNORECASE):
        return ""  # "how long will it take": what is measured was said before
    parts = subject.split()
    if not m.group("verb") and re.fullmatch(_DO, m.group("aux"), re.IGNORECASE) and len(parts) > 1 \
            and not re.search(r"\w\s+(?:around|in|of|for|with|at|on|to|from)\b", m.group("subject")):
        parts = parts[:-1]  # "does depression affect?": the last word is the verb
    return " ".join(parts)


_VERSUS = re.compile(r"^\W*(?:what(?:'s| is) the )?(?:difference|differences) between (?P<a>.+?) and (?P<b>.+?)\W*$|"
                     r"^(?P<c>.+?)\s+(?:vs\.?|versus|compared (?:to|with)|or)\s+(?P<d>.+?)"
                     r"(?:[?,.]|\s+(?:which|whats|what's|what|how|who|is|are)\b|$)", re.IGNORECASE)


def _compared(question: str) -> list[set[str]]:
    """The two things a comparison sets side by side ("ketamine vs regular antidepressants",
    "difference between X and Y"), as stems; empty when it is not one."""
    if not re.search(r"\bvs\.?\b|\bversus\b|\bcompared (?:to|with)\b|\bdifference", question, re.IGNORECASE):
        return []
    m = _VERSUS.search(question)
    if not m:
        return []
    a, b = (m.group("a"), m.group("b")) if m.group("a") else (m.group("c"), m.group("d"))
    generic = {stem(w) for w in generic_words()}
    return [set(content_stems(x)) - generic for x in (a, b)]


def _second_word_end(question: str) -> int:
    """End of the subject in "Is psilocybin an opioid?": the guess starts after it."""
    spans = list(_WORD_SPAN.finditer(question))
    for i, m in enumerate(spans):
        if m.group(0).lower() in {"is", "are", "was", "were"} and i + 1 < len(spans):
            return spans[i + 1].end()
    return 0


class Answerability:
    """Decides whether the articles answer a question, from the question and the ranked sentences."""

    def __init__(self, texts: Iterable[str], embedder=None, min_support: float = 0.35,
                 soft_match: float = SOFT_MATCH, scorer=None, answer_threshold: float = 0.6):
        vocab = {w for t in texts for w in words(t) if w not in STOPWORDS and re.search(r"[a-z]", w)}
        self.vocab = sorted(vocab)
        # "SSRIs" in the text covers "SSRI" in a question: the stemmer keeps acronyms' plural s.
        self.stems = frozenset({stem(w) for w in self.vocab} | {stem(w[:-1]) for w in self.vocab
                                                                 if w.endswith("s") and len(w) > 3})
        self.embedder, self.min_support, self.soft_match = embedder, min_support, soft_match
        self.scorer, self.answer_threshold = scorer, answer_threshold  # the learned judge, when trained
        self._vectors: np.ndarray | None = None
        _speller()  # loaded at start-up (0.1 s), not on a patient's first question

    # --- words ---------------------------------------------------------------------------
    def _in_corpus(self, word: str) -> bool:
        s = stem(word)
        return s in self.stems or bool(paraphrases().get(s, frozenset()) & self.stems)

    def correct(self, word: str) -> str:
        """A misspelt word ▶ the corpus word or dictionary word it stands for (else itself)."""
        if len(word) < MIN_TYPO_LENGTH or not word.isalpha() or self._in_corpus(word):
            return word
        speller = _speller()
        if speller is not None and word in speller:
            return word  # a real word ("cost"), not a typo of a corpus word ("most")
        near = [v for v in self.vocab if abs(len(v) - len(word)) <= 1 and _one_edit(word, v)]
        if near:
            return near[0]
        fixed = speller.correction(word) if speller is not None else None
        if fixed and fixed != word and (fixed.isalpha() or "'" in fixed):
            return fixed
        if len(word) >= MIN_TWO_EDIT_LENGTH:  # "psycadelic" ▶ "psychedelic": two slips in a long word
            two = [v for v in self.vocab if abs(len(v) - len(word)) <= 1 and _edits(word, v) <= 2]
            if len(two) == 1:
                return two[0]
        return word

    def _soft(self, unseen: list[str]) -> set[str]:
        """The unseen words that are near-synonyms of some corpus word."""
        if not unseen or self.embedder is None or not self.vocab:
            return set()
        if self._vectors is None:
            self._vectors = self.embedder.embed(self.vocab)
        sims = self.embedder.embed(unseen) @ self._vectors.T
        return {w for w, row in zip(unseen, sims, strict=True) if float(row.max()) >= self.soft_match}

    def unseen(self, question: str) -> list[tuple[str, int]]:
        """(word, position) of the question's content words the articles never use, typos corrected."""
        out = []
        for m in _WORD_SPAN.finditer(question.replace("’", "'")):
            for w in words(m.group(0)):
                if w in STOPWORDS or w in SHORTHAND or w == "n't" or not re.search(r"[a-z]", w):
                    continue
                fixed = self.correct(w) if m.group(0).lower() == m.group(0) else w
                if fixed in STOPWORDS or "'" in fixed or self._in_corpus(fixed):
                    continue
                out.append((fixed, m.start()))
        return out

    def focus_terms(self, question: str) -> list[str]:
        """Off-article words the question is *about*: named things and asked-about properties,
        not the alternatives and guesses it offers, nor where the patient heard of it ("I read
        *online* that ...")."""
        question = _REPORTED.sub(lambda m: " " * len(m.group(0)), question)  # offsets stay put
        names, topics, entities = _names(question), topic_words(), entity_words()
        speller = _speller()
        specific = []
        for word, at in self.unseen(question):
            named = word in names or word in entities
            unknown = speller is not None and word.isalpha() and word not in speller
            if word in topics or named or unknown:
                specific.append((word, at, word in topics))
        if not specific:
            return []
        near = self._soft([w for w, _, topic in specific if not topic])
        specific = [(w, at, topic) for w, at, topic in specific if w not in near]
        excused: set[int] = set()
        for sides in _choices(question):
            inside = [[at for _, at, _ in specific if a <= at < b] for a, b in sides]
            for this, other in ((0, 1), (1, 0)):
                if self._spoken_of(question[slice(*sides[other])]):
                    excused.update(inside[this])  # the articles speak of the other alternative
        guess = _guess(question)
        if guess:  # a named thing offered as a guess; an asked-about property is still asked about
            excused.update(at for _, at, topic in specific if not topic and guess[0] <= at < guess[1])
        return list(dict.fromkeys(w for w, at, _ in specific if at not in excused))

    def _spoken_of(self, text: str) -> bool:
        """Whether the articles use every content word of a phrase (and it has one)."""
        generic = {stem(w) for w in generic_words()}
        content = [w for w in words(text) if w not in STOPWORDS and w != "n't" and stem(w) not in generic]
        unseen = [w for w, _ in self.unseen(text) if stem(w) not in generic]
        near = self._soft(unseen)
        return bool(content) and all(w in near for w in unseen)

    def measured_unseen(self, question: str) -> list[str]:
        """Words naming what a quantity question measures that the articles never use: then what
        is measured is something they do not speak of ("how long is a *session*?")."""
        phrase = _measured(question)
        if not phrase:
            return []
        generic = {stem(w) for w in generic_words()}
        unseen = [w for w, _ in self.unseen(phrase) if stem(w) not in generic and w not in topic_words()]
        near = self._soft(unseen)
        return [w for w in unseen if w not in near]

    def _measured_words(self, question: str) -> list[str]:
        """The measured phrase's naming words, typos corrected, its head (last) first."""
        generic = {stem(w) for w in generic_words()}
        named = [self.correct(w) for w in words(_measured(question)) if w not in STOPWORDS and stem(w) not in generic
                 and not w.isdigit() and w not in NUMBER_WORDS]
        return named[::-1]

    def _is_about(self, text: str, measured: Sequence[str]) -> bool:
        """A sentence states the amount *of the measured thing* when it names its head, or, for a
        head the articles never use ("pills"), another word of the phrase ("antidepressant")."""
        if not measured:
            return True
        said = {stem(w) for w in words(text)}
        head, *rest = measured
        if ({stem(head)} | paraphrases().get(stem(head), frozenset())) & said:
            return True  # the head itself or an article word it stands for ("pills" ▶ "medications")
        return not self._in_corpus(head) and any(stem(w) in said for w in rest)

    def _compared_sides(self, question: str) -> list[set[str]]:
        """Both sides of a comparison, as article stems; empty unless both are article words."""
        sides = [s & self.stems for s in _compared(question) if s & self.stems]
        return sides if len(sides) == 2 else []

    def _guessed_about(self, question: str) -> set[str]:
        """The article words naming what a guess is about ("*Ketamine* works like Prozac by
        boosting serotonin, yes?"): a sentence about it answers, not one that shares the guess's
        words ("serotonin")."""
        guess = _guess(question)
        if not guess or guess[0] == 0:
            return set()
        generic = {stem(w) for w in generic_words()}
        return {t for t in content_stems(question[:guess[0]]) if t in self.stems and t not in generic}

    def _preferred(self, question: str, evidence: list[Scored]) -> list[Scored]:
        """Of the near sentences, those naming both sides of a comparison lead, then those about
        what a guess is about ("Ketamine works like Prozac, yes?": a ketamine sentence, not a
        serotonin one), then those stating the kind asked for (a mechanism for "how does it
        work", a difference for "X vs Y"); within each group the ranking stands."""
        subject = self._guessed_about(question)
        sides = self._compared_sides(question)
        # A message asking two things gets each part's best sentence later (the pipeline's per-part leads).
        single = len(question_parts(question)) < 2
        wants = [states for asks, states in _PREFERS.values() if single and asks.search(question)]
        window = evidence[:PREFER_WINDOW]

        def rank(r: Scored) -> tuple[bool, bool, bool]:
            said = set(content_stems(r.text))
            both = not sides or all(side & said for side in sides)
            about = not subject or bool(subject & said)
            stated = not wants or any(s.search(r.text) for s in wants)
            return (not both, not about, not stated)

        lead = sorted(window, key=rank)  # stable: the ranking decides within each group
        return lead + evidence[PREFER_WINDOW:]

    # --- the learned decision ------------------------------------------------------------
    def answering(self, asked: str, evidence: Sequence[Scored]) -> list[tuple[Scored, float]]:
        """The nearest sentences with the answer scorer's probability that each answers ``asked``,
        in evidence order: half that probability, half the ranking score (less the best one's).
        The scorer decides whether the question is answered; which sentence answers it best is
        told more reliably by both together (on the tuning sets the blend picked the sentence
        holding the answer more often than either alone). The rest follow, below them."""
        window = list(evidence[:SCORED_WINDOW])
        if not window:
            return []
        probs = self.scorer.score(asked, [f"{r.heading}: {r.text}" if r.heading else r.text for r in window])
        top = max(r.score for r in window)
        blended = [(Scored(ANSWER_WEIGHT * float(p) + (1 - ANSWER_WEIGHT) * (r.score - top), r.source, r.span,
                           r.text, r.heading), float(p)) for p, r in zip(probs, window, strict=True)]
        blended.sort(key=lambda pair: -pair[0].score)
        floor = blended[-1][0].score - 1.0
        return blended + [(Scored(floor, r.source, r.span, r.text, r.heading), 0.0) for r in evidence[SCORED_WINDOW:]]

    def _scored(self, asked: str, question: str, evidence: list[Scored]) -> Decision:
        """The answer scorer reads the question with each of the nearest sentences: the question is
        answered when one of them answers it (and, for a question asking for a duration, amount or
        other quantity, one that does states one). The words the articles never use explain a
        refusal; they do not decide it."""
        kind = asks_for(question)
        scored = self.answering(asked, evidence)
        if not scored:
            return Decision(False, "no passage is close to the question", (), kind)
        best = max(p for _, p in scored)
        if best < self.answer_threshold:
            terms = self.focus_terms(question)
            why = f"the articles never mention {_quote(terms)}" if terms else "no passage answers the question"
            return Decision(False, f"{why} (best answer score {best:.2f})", (), kind, tuple(terms))
        if kind and kind != "service" and not any(states(r.text, kind) for r, p in scored
                                                  if p >= self.answer_threshold):
            return Decision(False, f"no passage states {ASK_NAMES[kind]}", (), kind)
        return Decision(True, f"a passage answers it (answer score {best:.2f})", tuple(r for r, _ in scored), kind)

    # --- the decision --------------------------------------------------------------------
    def decide(self, question: str, ranked: Sequence[Scored], close: bool = True,
               pointed: str | None = None, asked: str | None = None) -> Decision:
        """``ranked``: the retrieved sentences, best first; ``close``: the retriever found passages
        near the question at all; ``pointed``: the item of the last answer a follow-up points to;
        ``asked``: the question with what a follow-up leans on (the retrieval query)."""
        contact = bool(_ASKS_CONTACT.search(question))
        evidence = defining_first(question, [r for r in ranked if not is_signpost(r.text)
                                             and (contact or not _CONTACT.search(r.text))])
        footer = [r for r in evidence if _CONTACT.search(r.text)] if contact else []
        if footer:  # "how do I reach the clinic?": the page's contact line answers it, alone
            below = footer[0].score - 1.0
            evidence = footer + [Scored(min(r.score, below), r.source, r.span, r.text, r.heading) for r in evidence
                                 if r not in footer]
        if self.scorer is not None and not footer:
            return self._scored(asked or question, question, evidence)
        terms = self.focus_terms(question)
        if terms:
            return Decision(False, f"the articles never mention {_quote(terms)}", (), asks_for(question), tuple(terms))
        if not evidence:
            return Decision(False, "no passage is close to the question")
        names = _names(question)
        naming = [r for r in evidence[:EVIDENCE_WINDOW] if names & _said(r.text) or _restates(r.text, pointed)]
        if naming:  # "what's an SNRI?": a sentence naming the asked-about term is the evidence
            evidence = naming + [r for r in evidence if r not in naming]
        if not naming:
            evidence = self._preferred(question, evidence)
        best = evidence[0]
        anchored = bool(naming or footer)  # named, or the contact line: answers however far the scores
        if not close and not anchored and best.score < self.min_support + 0.1:
            return Decision(False, "no passage is close to the question")
        kind = asks_for(question)
        if kind:
            measured = self.measured_unseen(question) if kind != "service" else []
            if measured:
                return Decision(False, f"no passage states {ASK_NAMES[kind]} for {_quote(measured)}", (), kind)
            about = self._measured_words(question) if kind in ("duration", "count") else []
            stating = [r for r in evidence[:EVIDENCE_WINDOW] if states(r.text, kind) and self._is_about(r.text, about)]
            if not stating:
                return Decision(False, f"no passage states {ASK_NAMES[kind]}", (), kind)
            evidence = stating + [r for r in evidence if r not in stating]
        if best.score < self.min_support and not anchored:
            return Decision(False, f"the closest passage is too far from the question ({best.score:.2f})", (), kind)
        return Decision(True, "a passage states it", tuple(evidence), kind)


_DEFINE = re.compile(r"^\W*(?:so\s+|and\s+|ok\s+)?(?:what(?:'s|s| is| are| was)|define|who is|tell me what)\s+"
                     r"(?:an?\s+|the\s+)?(?P<term>[\w-]+(?:\s+[\w-]+)?)\s*(?:exactly|even|again|anyway)?\W*$|"
                     r"^\W*what (?:kind|type|sort|class) of (?:\w+\s+)?(?:is|are)\s+(?P<kind_term>[\w-]+)\W*$|"
                     r"^\W*what (?:does|do) (?P<abbr>[\w-]+) (?:mean|stand for)\W*$|"
                     # "what's the N in SNRI", "what does the S in SSRI stand for"
                     r"^\W*what(?:'s|s| is| does| do)? the \w{1,2} (?:in|of) (?P<letter_of>[A-Za-z]{2,8})"
                     r"(?:\s+(?:stand for|mean|for))?\W*$|"
                     # "is ketamine a psychedelic like LSD or something else": what it is answers it
                     r"^\W*(?:so\s+|but\s+|and\s+)?(?:is|are)\s+(?P<is_term>[\w-]+)\s+(?:just\s+|basically\s+|really\s+"
                     r"|actually\s+)?(?:an?|the same as|a kind of|a type of|a form of)\s", re.IGNORECASE)


def defined_term(question: str) -> str | None:
    """The term a definition question asks about: "what is ketamine?" ▶ "ketamine"."""
    m = _DEFINE.search(question.strip())
    if not m:
        return None
    return next(g for g in m.group("term", "kind_term", "abbr", "letter_of", "is_term") if g).lower()


def defines(text: str, term: str) -> bool:
    """Whether a sentence says what ``term`` is: "ketamine, a dissociative anesthetic", "X (found
    in ...)", "X is defined as", "such as X", "X, commonly known as"."""
    t = re.escape(term.rstrip("s"))
    return bool(re.search(rf"\b{t}s?\b[’']?s?\s*(?:,\s*(?:an?|the|commonly|also)\b|\(|is (?:defined as|an?\b)|"
                          rf"are (?:an?\b|defined as)|refers to|means\b)|\bsuch as {t}|\({t}s?\)",
                          text, re.IGNORECASE))


def defining_first(question: str, ranked: Sequence[Scored], window: int = 8) -> list[Scored]:
    """For a definition question, the near sentences that define the term lead the evidence."""
    term = defined_term(question)
    if not term:
        return list(ranked)
    lead = [r for r in ranked[:window] if defines(r.text, term)]
    return lead + [r for r in ranked if r not in lead]


_PART_BREAK = re.compile(r"\?\s+(?=\S)|,?\s+(?:and|also|plus)\s+(?=(?:what|how|why|when|where|which|who|is|are|does|do|"
                         r"can|could|will|would|should)\b)", re.IGNORECASE)


def question_parts(question: str) -> list[str]:
    """The questions inside one message: "What is psilocybin and what does it do?" ▶ two."""
    parts = [p.strip(" ,;") for p in _PART_BREAK.split(question)]
    return [p for p in parts if len(re.findall(r"[A-Za-z]+", p)) >= 2 and re.search(r"[A-Za-z]{3,}", p)]


def _restates(text: str, item: str | None) -> bool:
    """Whether a sentence says most of an earlier answer's item ("safety and tolerability")."""
    if not item:
        return False
    asked = set(content_stems(item))
    return bool(asked) and len(asked & set(content_stems(text))) / len(asked) >= 2 / 3


def _said(text: str) -> set[str]:
    """The words of a sentence, with acronyms' plural s dropped ("SNRIs" says "snri")."""
    return {f for w in words(text) for f in (w, w[:-1] if w.endswith("s") else w)}


def _quote(terms: Sequence[str]) -> str:
    return ", ".join(f"“{t}”" for t in terms)


def _edits(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions)."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def _one_edit(a: str, b: str) -> bool:
    """Whether ``a`` becomes ``b`` by one insertion, deletion, substitution or swap of neighbours."""
    if a == b:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
                                  and a[diff[1]] == b[diff[0]])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    if len(long_) - len(short) != 1:
        return False
    i = next((k for k in range(len(short)) if short[k] != long_[k]), len(short))
    return short[i:] == long_[i + 1:]
