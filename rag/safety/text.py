"""The forms of a message the rules read: normalised, letters joined, hidden text decoded.

Why: patients (and people testing the gate) write "KIIIL mysefl", "k i l l myself",
"su1c1dal", base64 or text backwards. Every pattern is written against one plain form, and
each reading here maps a disguised spelling onto it, so a rule catches the obfuscated
spellings without one pattern per trick.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata

__all__ = ["decoded", "joined", "normalise"]

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
# Look-alike Cyrillic and Greek letters, so "kіll" typed with a Cyrillic і still reads "kill".
_CONFUSABLES = str.maketrans("аеорсухіѕјкмтвнοαικνρτυ", "aeopcyxisjkmtbhoaikvptu")
_LEET = str.maketrans("013457@$!|", "oieastasil")
_LEET_CHARS = "0-9@$!|"
_UNIT = re.compile(r"\d+(?:[.,]\d+)?(?:mg|g|kg|ml|mcg|ug|x|st|nd|rd|th|s|h|hr|hrs|am|pm|min|mins|yo|yrs|lbs|k)?")


def _unleet(token: str, aggressive: bool = False) -> str:
    """Undo leetspeak ("su1c1de", "k!ll") but leave numbers and units ("50mg", "3rd") alone.

    ``aggressive`` also rewrites tokens like "d13" or "b12"; only the crisis check reads that form.
    """
    core = token.strip(".,!?;:\"'()[]{}<>")
    if not core or _UNIT.fullmatch(core) or not re.search(r"[a-z]", core):
        return token
    if aggressive:
        return token.replace(core, core.translate(_LEET))
    flanked = re.search(rf"[a-z][{_LEET_CHARS}]+[a-z]", core)
    touching = re.search(rf"[a-z][{_LEET_CHARS}]|[{_LEET_CHARS}][a-z]", core)
    if not flanked and (re.search(r"\d{2,}", core) or not touching):
        return token  # "rot13", "covid19", "b12" are names, not leetspeak
    return token.replace(core, core.translate(_LEET))


def _base(text: str, aggressive: bool = False) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).translate(_QUOTES).casefold()
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = text.translate(_CONFUSABLES)
    text = re.sub(r"(\w)'(\w)", r"\1\2", text)  # i'm -> im, don't -> dont
    text = re.sub(r"\bcan ?not\b", "cant", re.sub(r"\bdo not\b", "dont", re.sub(r"\bwill not\b", "wont", text)))
    return " ".join(_unleet(t, aggressive) for t in text.split())


def _finish(text: str) -> str:
    text = re.sub(r"[.!?;:,\n]+", " . ", text)  # clause boundaries stay visible as " . "
    text = re.sub(r"[^a-z0-9. ]+", " ", text)  # hyphens, quotes, emoji ... become spaces
    text = re.sub(r"([a-z])\1+", r"\1", text)  # "kill" -> "kil", "waaaant" -> "want"
    text = re.sub(r"(?: \.)+", " .", re.sub(r"\s+", " ", text))
    return text.strip(" .")


def normalise(text: str) -> str:
    """The form every pattern is written against: "I'm SOOO tired!!" -> "im so tired"."""
    return _finish(_base(text))


def joined(text: str, aggressive: bool = False) -> str:
    """Spaced-out letters joined ("k i l l" -> "kill", "I-g-n-o-r-e" -> "ignore")."""
    base = _base(text, aggressive)
    base = re.sub(r"\b[a-z](?:[-_.* ]+[a-z]\b){2,}", lambda m: re.sub(r"[-_.* ]", "", m.group()), base)
    return _finish(base)


def decoded(text: str) -> list[str]:
    """Readable text hidden in base64 or hex runs, or written backwards."""
    out = []
    for blob in re.findall(r"[A-Za-z0-9+/]{16,}={0,2}", text):
        try:
            raw = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
        if _readable(raw):
            out.append(raw.decode("ascii"))
    for blob in re.findall(r"(?:[0-9a-fA-F]{2}[\s:]?){8,}", text):
        try:
            raw = bytes.fromhex(re.sub(r"[\s:]", "", blob))
        except ValueError:
            continue
        if _readable(raw):
            out.append(raw.decode("ascii"))
    return out


def _readable(raw: bytes) -> bool:
    if len(raw) < 8:
        return False
    printable = sum(32 <= b < 127 for b in raw)
    letters = sum(chr(b).isalpha() for b in raw if b < 128)
    return printable == len(raw) and letters >= 0.6 * len(raw) and b" " in raw
