"""Is this message English? And does it speak of dying in another language?

Why: the embedder, the rules and the articles are English. A message in Spanish or Hindi
would otherwise meet retrieval and get a bare "not covered", which for a person in crisis is
the worst reply there is. So a message the assistant cannot read as English gets a short
reply saying it answers in English, always with the crisis lines, and crisis wording in the
languages the clinic's patients most often use (``rules.toml`` ``[foreign]``) gets the crisis
reply itself. Language identification is py3langid (a maintained langid.py fork whose model
ships inside the package), restricted to likely languages so short messages are not read as
Estonian or Zulu; romanised Hindi, which no identifier here knows, is recognised by its
function words.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

from .rules import rules

__all__ = ["Language", "foreign_crisis", "identify"]

# Languages the identifier chooses among for Latin-script text.
LIKELY = ("en", "es", "pt", "fr", "de", "it", "nl", "id", "tl", "sw")
MIN_CONFIDENCE = 0.9  # below this, a Latin-script message is taken as English
MIN_WORDS = 3  # shorter messages ("hola", "kms") are too short to tell
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1, "hi-Latn" for romanised Hindi, or "other" for an unnamed script
    english: bool


def fold(text: str) -> str:
    """Lower case, Latin accents removed ("não" -> "nao"), other scripts as written, punctuation
    as spaces: the form the ``[foreign]`` patterns are written against."""
    text = unicodedata.normalize("NFKC", text).casefold()
    out = []
    for char in unicodedata.normalize("NFD", text):
        if unicodedata.combining(char) and out and out[-1].isascii():
            continue  # an accent on a Latin letter; Devanagari vowel signs stay
        out.append(char)
    text = unicodedata.normalize("NFC", "".join(out))
    # punctuation becomes a space; letters and the vowel signs of Devanagari (marks) stay
    return " ".join("".join(c if c.isalnum() or unicodedata.category(c)[0] == "M" else " " for c in text).split())


def foreign_crisis(text: str) -> bool:
    """Crisis wording in Spanish, Portuguese, French, German, Italian or Hindi."""
    return bool(rules().foreign_crisis.search(fold(text)))


def identify(text: str) -> Language:
    words = _WORD.findall(unicodedata.normalize("NFKC", text).casefold())
    letters = [c for w in words for c in w]
    if not letters:
        return Language("en", True)
    latin = sum(c.isascii() or "LATIN" in unicodedata.name(c, "") for c in letters)
    if latin < 0.5 * len(letters):
        code, _ = _identifier(full=True).classify(text)
        return Language(code if code != "en" else "other", False)
    hinglish = sum(w in rules().hinglish_words for w in words)
    if hinglish >= 2 and hinglish >= 0.3 * len(words):
        return Language("hi-Latn", False)
    if len(words) < MIN_WORDS:
        return Language("en", True)
    code, confidence = _identifier(full=False).classify(text)
    if code != "en" and confidence >= MIN_CONFIDENCE:
        return Language(code, False)
    return Language("en", True)


@cache
def _identifier(full: bool):
    """The langid model (loaded once, about 0.5 s), over all its languages or the likely ones."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    if not full:
        ident.set_languages(list(LIKELY))
    return ident
