"""Words of a claim or a source sentence, with offsets, stems and the clause each belongs to.

Why clauses: a false claim made of the source's own words usually takes a subject from one
clause and a predicate from another ("traditional antidepressants ... within hours"), or a
modifier from one list item and a head from the next. Knowing where each source clause
starts and ends is what lets the checker tell a fair shortening from such a splice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..textnorm import NUMBER_WORDS, stem
from .lexicon import lexicon

__all__ = ["Segment", "Token", "segments", "strip_list_number", "tokenize"]

_TOKEN = re.compile(r"\d+(?:[.,]\d+)*%?|[^\W\d_]+(?:[’'](?:s|t|re|ve|ll|d|m)\b)?|[,;:()\[\]—–]|(?<=\s)-(?=\s)",
                    re.UNICODE)
_LIST_NUMBER = re.compile(r"^\s*\d{1,2}[.)]\s+")
COUNT_WORDS = NUMBER_WORDS - {"once", "percent"}  # "once" starts a condition


@dataclass(frozen=True)
class Token:
    text: str  # lower case
    key: str  # what two words are compared by: the stem, or the number itself
    start: int
    end: int
    punct: bool = False
    number: bool = False


def tokenize(text: str) -> list[Token]:
    """Words and clause punctuation; "n't" becomes "not", "cannot" becomes "can not"."""
    out: list[Token] = []
    for m in _TOKEN.finditer(text):
        raw = m.group().lower().replace("’", "'")
        s, e = m.start(), m.end()
        if raw in ",;:()[]—–-":
            out.append(Token(raw, raw, s, e, punct=True))
            continue
        if raw[0].isdigit():
            out.append(Token(raw, raw.replace(",", ""), s, e, number=True))
            continue
        if raw.endswith("n't"):
            base = {"can't": "can", "won't": "will", "shan't": "shall"}.get(raw, raw[:-3])
            out += [Token(base, stem(base), s, e - 3), Token("not", "not", e - 3, e)]
            continue
        if raw == "cannot":
            out += [Token("can", "can", s, s + 3), Token("not", "not", s + 3, e)]
            continue
        if raw.endswith("'s"):
            out += [Token(raw[:-2], stem(raw[:-2]), s, e - 2), Token("'s", "'s", e - 2, e)]
            continue
        # "two therapists" is a quantity like "2 therapists": kept, never swapped for another
        out.append(Token(raw, raw, s, e, number=True) if raw in COUNT_WORDS else Token(raw, stem(raw), s, e))
    return out


@dataclass(frozen=True)
class Segment:
    """A run of source words between clause punctuation or clause-starting words.

    ``boundary`` is how it begins: "start" (the sentence's first), "label" (a list label such
    as "Rapid Onset of Action:"), "soft" (after a plain comma: a list item or an appositive),
    or "hard" (a new clause: after ; : ( ) or a dash, or at "which", "while", "unlike"...).
    """

    start: int  # token index of the first token (its punctuation included)
    end: int  # token index past the last token
    boundary: str
    starter: str  # the clause-starting word, or ""
    closed: bool  # followed by punctuation (so it may be a parenthetical)


def segments(tokens: list[Token]) -> list[Segment]:
    words = lexicon()
    label_end = _label_end(tokens)
    out: list[Segment] = []
    if label_end:
        out.append(Segment(0, label_end, "label", "", True))
    start, boundary, starter = label_end, "start", ""
    i = label_end
    while i < len(tokens):
        tok = tokens[i]
        new = None
        if tok.punct:
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            if nxt is not None and not nxt.punct and (nxt.text in words.clause_start
                                                         or nxt.text in words.clause_start_after_comma):
                new = (i, "hard", nxt.text)
            else:
                # Brackets hold an abbreviation or an aside: as removable as a comma's list item.
                new = (i, "soft" if tok.text in ",()[]" else "hard", "")
        elif tok.text in words.clause_start and i > start and not tokens[i - 1].punct:
            new = (i, "hard", tok.text)
        if new is not None and new[0] > start:
            out.append(Segment(start, new[0], boundary, starter, True))
            start, boundary, starter = new
        elif new is not None:
            boundary, starter = new[1], new[2] or starter
        i += 1
    if start < len(tokens):
        out.append(Segment(start, len(tokens), boundary, starter, False))
    return out


def _label_end(tokens: list[Token]) -> int:
    """Index just past a leading "Label:" of at most eight words, else 0."""
    for i, tok in enumerate(tokens[:9]):
        if tok.text == ":":
            return i + 1 if i > 0 and all(not t.punct for t in tokens[:i]) else 0
    return 0


def strip_list_number(text: str) -> tuple[str, int]:
    """"2. Mechanism of Action: ..." -> ("Mechanism of Action: ...", 3)."""
    m = _LIST_NUMBER.match(text)
    return (text[m.end():], m.end()) if m else (text, 0)
