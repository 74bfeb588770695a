"""The safety gate: every message passes here before retrieval or the model see it.

Order is fixed, because crisis always wins: a person at risk who also asks about ketamine,
writes in Spanish, or types "ignore your rules" must get the crisis reply. Crisis is decided
first by two independent detectors, the rules (``rules.toml``, read on several disguised
readings of the message) and the learned classifier (``classifier.py``); either one firing is
enough, except the rules' broad fallback, which needs the classifier's risk signal too.
Then: crisis wording in another language; a message not in English (answered from the
articles only when a sentence answers it, with a notice that the assistant answers in English
and the crisis lines, else a reply saying so, with the crisis lines); controlled substances;
injection; personal medical advice; off-topic; allow.

The safety net: any reply that is not an answer (a decline, or "not covered" later in the
pipeline) to a message with a risk signal (a risk word, or the classifier above its lower
``watch`` threshold) carries the crisis lines, so nobody at risk gets a bare refusal; an
answer carries them when the message is about suicide, self-harm or overdose, or the
classifier is above ``watch``.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from . import languages
from .classifier import CrisisClassifier
from .messages import Messages, default_messages
from .rules import rules
from .text import decoded, joined, normalise

__all__ = ["SafetyGate", "Verdict", "assess", "crisis_rules_fire"]

log = logging.getLogger("rag.safety")
# Rules run in time linear in the text (about 10 microseconds a character); longer input is cut
# here. Callers should reject long input before this anyway (the pipeline allows 1000 characters).
MAX_SCAN_CHARS = 20_000


@dataclass(frozen=True)
class Verdict:
    """What the gate decided.

    ``reply`` is set for crisis/decline, and for a message not in English (the reply when the
    articles do not answer it). ``footer`` is the crisis-lines footer for an answer
    about suicide, self-harm, overdose or dependence. ``risk`` says the message carries a risk
    signal, so a refusal must carry the crisis lines. ``detected_by`` names the detector that
    found a crisis (``rules``, ``classifier``, ``language``).
    """

    action: Literal["allow", "crisis", "decline"]
    # ok | sensitive_topic | crisis | language | medical_advice | offtopic | injection | controlled_substance
    reason: str
    reply: str | None = None
    footer: str | None = None
    risk: bool = False
    detected_by: str | None = None


class SafetyGate:
    """The rules, the optional classifier and the scripted texts, asked in the fixed order."""

    def __init__(self, messages: Messages | None = None, classifier: CrisisClassifier | None = None):
        self.messages = messages or default_messages()
        self.classifier = classifier

    def assess(self, message: str, history: Sequence[Mapping[str, str]] = ()) -> Verdict:
        msgs, r = self.messages, rules()
        message = message[:MAX_SCAN_CHARS]
        text = normalise(message)
        readings = (text, joined(message), *[normalise(t) for t in decoded(message)])
        if crisis_by_rules(message, readings):
            return Verdict("crisis", "crisis", msgs.crisis_reply, risk=True, detected_by="rules")
        if languages.foreign_crisis(message):
            return Verdict("crisis", "crisis", msgs.crisis_reply, risk=True, detected_by="language")
        score = self._score(message)
        if score is not None and score >= self.classifier.threshold:
            return Verdict("crisis", "crisis", msgs.crisis_reply, risk=True, detected_by="classifier")
        watched = score is not None and score >= self.classifier.watch
        # The broad net ("I" and a death word in one clause) also matches "I'm dead 💀 that meme"
        # and "I attempted suicide when I was 19, doing well now": it is a crisis when the
        # classifier sees a risk signal too, or cannot be asked; otherwise the reply carries the lines.
        netted = any(r.crisis_fallback(v) for v in readings)
        if netted and (score is None or watched):
            return Verdict("crisis", "crisis", msgs.crisis_reply, risk=True, detected_by="rules")

        watched = watched or netted
        risk = watched or bool(r.risk.search(text))
        net = msgs.crisis_footer if risk else None
        if not languages.identify(message).english:
            # Answered from the articles when a sentence answers it, in English, under a notice
            # that says so and holds the crisis lines; otherwise ``reply``, which holds them too.
            return Verdict("allow", "language", msgs.other_language, footer=msgs.other_language_answer, risk=risk)
        hidden = readings[2:]
        if any(r.controlled.search(v) for v in readings):
            return Verdict("decline", "controlled_substance", msgs.decline_controlled_substance, net, risk)
        if (hidden or r.injection_raw.search(unicodedata.normalize("NFKC", message))
                or any(r.injection.search(v) for v in (text, readings[1], normalise(message[::-1])))):
            return Verdict("decline", "injection", msgs.decline_injection, net, risk)
        if r.medical.search(text):
            return Verdict("decline", "medical_advice", msgs.decline_medical_advice, net, risk)
        if r.offtopic_message(text, history):
            return Verdict("decline", "offtopic", msgs.decline_offtopic, net, risk)
        if r.sensitive.search(text) or watched:
            return Verdict("allow", "sensitive_topic", footer=msgs.crisis_footer, risk=True)
        return Verdict("allow", "ok", risk=risk)

    def _score(self, message: str) -> float | None:
        """The classifier's score, or None when there is none or it failed: the rules still
        stand, so a broken model never stops the gate."""
        if self.classifier is None:
            return None
        try:
            return self.classifier.score(message)
        except Exception:  # noqa: BLE001 - any failure falls back to the rules alone
            log.exception("crisis classifier failed; the rules alone decided")
            return None


def crisis_by_rules(message: str, readings: Sequence[str]) -> bool:
    """The crisis table on every reading; also, for the crisis check only, where a miss costs
    most: "kill. my. self." read without clause breaks and "d13" as leetspeak. (The table's
    broad fallback needs the classifier's risk signal as well: see ``SafetyGate.assess``.)"""
    r = rules()
    if any(r.crisis.search(v) for v in readings):
        return True
    loose = joined(message, aggressive=True)
    return any(r.crisis.search(v) for v in {loose, loose.replace(" . ", " ")} - set(readings[:2]))


def crisis_rules_fire(message: str, fallback: bool = False) -> bool:
    """Do the rules that decide alone (any language) call this a crisis? The classifier's
    threshold is chosen with this, so the two share one false-crisis budget. ``fallback``
    adds the broad net, as the gate uses it when no classifier can be asked."""
    readings = (normalise(message), joined(message), *[normalise(t) for t in decoded(message)])
    return (crisis_by_rules(message, readings) or languages.foreign_crisis(message)
            or (fallback and any(rules().crisis_fallback(v) for v in readings)))


def assess(message: str, history: Sequence[Mapping[str, str]] = (), messages: Messages | None = None,
           classifier: CrisisClassifier | None = None) -> Verdict:
    """One message through a gate built for it (the rules alone unless a classifier is given)."""
    return SafetyGate(messages, classifier).assess(message, history)
