"""Safety: what happens to a message before retrieval or the model see it.

- ``gate``: the fixed order of decisions and the safety net (crisis always first);
- ``rules`` + ``rules.toml``: the pattern tables, as data;
- ``classifier``: the learned crisis detector over sentence embeddings;
- ``languages``: English or not, and crisis wording in other languages;
- ``text``: the normalised and de-obfuscated readings the rules match;
- ``messages``: every scripted text a patient can see (``rag/messages.toml``).
"""

from __future__ import annotations

import unicodedata

from .classifier import CrisisClassifier
from .gate import SafetyGate, Verdict, assess, crisis_rules_fire
from .messages import Messages
from .rules import rules
from .text import normalise

__all__ = ["CrisisClassifier", "Messages", "SafetyGate", "Verdict", "addressed_to_the_assistant", "assess",
           "crisis_rules_fire", "normalise", "small_talk"]


def small_talk(text: str) -> bool:
    """Is the whole message a greeting or thanks ("hi", "thanks so much!")? Such a message gets a
    short welcome instead of "the articles don't cover this", and is no content gap."""
    return bool(rules().small_talk.search(normalise(text.strip())))


def addressed_to_the_assistant(text: str) -> bool:
    """Does this sentence talk to the assistant ("ignore previous instructions", a fake system
    turn) rather than to a reader? Such sentences in a corpus document are a planted
    instruction: ingest leaves them out, so the model never sees them and no answer quotes them."""
    r = rules()
    return bool(r.injection_raw.search(unicodedata.normalize("NFKC", text)) or r.injection.search(normalise(text)))
