"""Words, stems and the small word lists that the grounding and coverage checks share."""

from __future__ import annotations

import re
from functools import lru_cache

_WORD = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")

# Function words: they carry no claim of their own, so they need no support.
STOPWORDS = frozenset("""
a an the and or but if then than so as of in on at to for from by with about into onto over under
is are was were be been being am do does did doing done have has had having it its itself this that
these those there here their them they he she his her him we our us you your i me my mine who whom
whose which what when where why how can could may might must shall should will would also very just
such some any each both all most more other another own same too only well even still yet s t
""".split())

# Chat spellings of pronouns, contractions and fillers ("im", "ppl", "idk"): never what a
# question is about, though a spell checker does not know them.
SHORTHAND = frozenset("""
im ive id ill youre youve youll theyre theyve thats whats hows whos wheres dont doesnt didnt cant
wont isnt arent wasnt werent wouldnt couldnt shouldnt havent hasnt ppl u ur r pls plz thx ty idk
tbh rn bc cuz coz abt gonna wanna gotta kinda sorta lol omg btw imo ya yall
ve ll re
""".split())  # the last line: what "I've", "they'll", "we're" leave once split at the apostrophe

# Words a faithful paraphrase may add without changing what the source says.
FRAME = frozenset("""
according article source sources say says said state states stated mention mentions mentioned
note notes noted yes answer explain explains described describe describes called known kind type
types way ways people person someone patients patient individuals often generally usually
""".split())

NEGATIONS = frozenset({"not", "no", "never", "cannot", "none", "neither", "nor", "without", "nothing",
                       "nobody", "n't", "lack", "lacks", "fail", "fails"})

NUMBER_WORDS = frozenset("""zero one two three four five six seven eight nine ten eleven twelve twenty
thirty forty fifty hundred thousand million billion half twice once percent""".split())


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def normalise(text: str) -> str:
    return (text.lower().replace("’", "'").replace("‘", "'").replace("n't", " n't")
            .replace("“", '"').replace("”", '"'))


def words(text: str) -> list[str]:
    """Lower-case word tokens; hyphenated words split into parts; "isn't" gives "n't"."""
    text = normalise(text)
    out = []
    for token in re.findall(r"n't|[a-z0-9]+(?:[.,][0-9]+)*", text):
        out.append(token)
    return out


def stem(word: str) -> str:
    return _stemmer().stemWord(word)


def content_stems(text: str) -> list[str]:
    """Stems of the words that make a claim (no function words)."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and w != "n't"]


def numbers(text: str) -> set[str]:
    return set(_NUMBER.findall(text))


def has_negation(text: str) -> bool:
    return any(w in NEGATIONS for w in words(text))


FRAME_STEMS = frozenset(stem(w) for w in FRAME)
