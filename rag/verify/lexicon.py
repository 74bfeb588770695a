"""The checker's word lists, read once from ``lexicon.toml``, stemmed where they are compared."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..textnorm import stem

__all__ = ["LEXICON_FILE", "Lexicon", "lexicon"]

LEXICON_FILE = Path(__file__).with_name("lexicon.toml")


@dataclass(frozen=True)
class Lexicon:
    function: frozenset[str]
    auxiliary: frozenset[str]
    weakening: frozenset[str]
    protected: frozenset[str]  # stems
    strengthening: frozenset[str]
    condition: frozenset[str]
    restricted_group: frozenset[str]
    emphasis: frozenset[str]
    example_markers: tuple[tuple[str, ...], ...]  # the emphasis words as token sequences ("such", "as")
    clause_start: frozenset[str]
    clause_start_after_comma: frozenset[str]
    asserting_connective: frozenset[str]
    concessive: frozenset[str]
    scope: frozenset[str]
    evidence: frozenset[str]
    about_the_text: frozenset[str]
    lead_ins: tuple[re.Pattern[str], ...]
    paraphrases: dict[tuple[str, ...], tuple[tuple[str, ...], ...]]  # claim phrase -> source phrases (lower)


@cache
def lexicon() -> Lexicon:
    data = tomllib.loads(LEXICON_FILE.read_text(encoding="utf-8"))
    w = data["words"]
    from .tokens import tokenize  # tokens imports lexicon lazily, inside a function

    def phrase(text: str) -> tuple[str, ...]:
        return tuple(t.key for t in tokenize(text) if not t.punct)

    return Lexicon(
        function=frozenset(w["function"]), auxiliary=frozenset(w["auxiliary"]), weakening=frozenset(w["weakening"]),
        # inflections match ("reduces", "reduced"); an adverb's stem is another word ("likely" -> "like")
        protected=frozenset(stem(x) for x in w["protected"] if not x.endswith("ly")) | frozenset(w["protected"]),
        strengthening=frozenset(w["strengthening"]), condition=frozenset(w["condition"]),
        restricted_group=frozenset(w["restricted_group"]),
        emphasis=frozenset(w["emphasis"]),
        example_markers=tuple(tuple(t.text for t in tokenize(m) if not t.punct) for m in w["emphasis"]),
        clause_start=frozenset(w["clause_start"]),
        clause_start_after_comma=frozenset(w["clause_start_after_comma"]),
        asserting_connective=frozenset(w["asserting_connective"]), concessive=frozenset(w["concessive"]),
        scope=frozenset(w["scope"]),
        evidence=frozenset(w["evidence"]),
        about_the_text=frozenset(w["about_the_text"]),
        lead_ins=tuple(re.compile(p, re.IGNORECASE) for p in data["lead_ins"]["patterns"]),
        paraphrases={phrase(k): tuple(phrase(v) for v in vs) for k, vs in data["paraphrases"].items()},
    )
