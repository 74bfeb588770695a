"""The pattern tables of ``rules.toml``, compiled once, and the questions the gate asks of them.

Why rules at all, beside the learned detector: they work with no model loaded, in
microseconds, catch obfuscated spellings the embedder never saw ("k i l l myself" after
``text.joined``), and clinic staff can read why a message was stopped. The tables are data
so they can be reviewed without reading Python; this module only compiles and applies them.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

from .text import normalise

__all__ = ["RULES_FILE", "Rules", "rules"]

RULES_FILE = Path(__file__).with_name("rules.toml")


class Rules:
    """Compiled tables: ``crisis``, ``sensitive``, ``controlled``, ``injection``, ``medical``,
    ``domain``, ``offtopic``, ``task``, ``risk``, the crisis fallback's three parts, the
    raw-text ``injection_raw`` and follow-up ``refers`` patterns, and the other-language
    ``foreign_crisis`` pattern with the ``hinglish_words`` cue list."""

    def __init__(self, path: Path = RULES_FILE):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        self._macros = {f"<{name}>": _fill_words(value, data["words"]) for name, value in data["macros"].items()}
        self.tables = {name: self._compile(t["patterns"]) for name, t in data["tables"].items()}
        self.injection_raw = re.compile(data["raw"]["injection_raw"], re.IGNORECASE)
        # Other languages: matched as written (see languages.py), so letters are not collapsed.
        self.foreign_crisis = re.compile("|".join(f"(?:{p})" for p in data["foreign"]["crisis"]))
        self.hinglish_words = frozenset(data["foreign"]["hinglish_words"])
        self.refers = re.compile(data["raw"]["refers"])
        for name, table in self.tables.items():
            setattr(self, name, table)

    def _compile(self, patterns: Sequence[str]) -> re.Pattern[str]:
        src = "|".join(f"(?:{p})" for p in patterns)
        for _ in range(2):  # macros may use macros
            for name, value in self._macros.items():
                src = src.replace(name, value)
        src = re.sub(r"(?<!\\)([a-z])\1+", r"\1", src)  # collapse letters, as the text is collapsed
        return re.compile(src)

    # --- questions the gate asks ---------------------------------------------------------
    def crisis_fallback(self, text: str) -> bool:
        """A clause with "I" as subject that names death or self-harm, not framed as a question,
        as learning about the topic, or negated: the net under the crisis table."""
        return any(self.fallback_subject.search(c) and self.fallback_harm.search(c)
                   and not self.fallback_frame.search(c) for c in text.split(" . "))

    def offtopic_message(self, text: str, history: Sequence[Mapping[str, str]]) -> bool:
        """Declined only on a clear off-topic cue and no health word: unknown wording is let through,
        because retrieval answers "not covered" safely while a wrong refusal turns a patient away."""
        if self.task.search(text):
            return True
        if not self.offtopic.search(text) or self.domain.search(text):
            return False
        last = next((t.get("content", "") for t in reversed(history) if t.get("role") == "user"), "")
        # "can I play football after it?" follows a ketamine question: the pronoun carries the topic.
        short_followup = len(text.split()) <= 12 and self.refers.search(text)
        return not (short_followup and last and self.domain.search(normalise(last)))


def _fill_words(macro: str, words: Mapping[str, list[str]]) -> str:
    for name, listed in words.items():
        macro = macro.replace("{" + name + "}", "|".join(listed))
    return macro


@cache
def rules() -> Rules:
    """The packaged tables, compiled on first use (about 50 ms)."""
    return Rules()
