"""The clauses a copying decoder may write: verbatim pieces of the sentences that answer.

"The model picks, the decoder copies": the model chooses which clause answers and the decoder
copies it to its end, so each answer sentence is a contiguous copy of one numbered source. The
candidates are the evidence sentences without their list labels ("Rapid Onset of Action: "),
and the main clause of each after a leading "Unlike ..., which ...," or "While ...," part, kept
only when the claim check accepts it as said by the sentence (a clause that drops a hedge,
condition or contrast is never offered). Each ends with its source number: "... days of
administration [1]."
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .grounding import Scored
from .types import Chunk

MIN_WORDS = 6  # a shorter piece is a fragment, not an answer
_LABEL = re.compile(r"^\s*(?:[A-Z][\w'’-]*|and|of|the|to|in|for|a|an|into|with)(?:\s+(?:[A-Z][\w'’-]*|and|of|the|to|in|"
                    r"for|a|an|into|with)){0,6}:\s+(?=[A-Z0-9“\"])")


@dataclass(frozen=True)
class Candidate:
    text: str  # what the decoder may write, with its source marker before the final stop
    source: int  # index into the prompt's sources (marker = source + 1)
    sentence: str  # the source sentence it copies from


def strip_label(sentence: str) -> str:
    """"Rapid Onset of Action: Unlike ..." ▶ "Unlike ...": the label names a list item, it says
    nothing. A title ("Ketamine: From Anesthesia to Antidepressant") is left as it is."""
    rest = _LABEL.sub("", sentence, count=1)
    return rest if re.search(r"[.!?][\"”’')]*\s*$", rest) else sentence


# Leading adjuncts a main clause can stand without: a contrast with something else, a
# connective, a time. Concessive openings ("While X remain Schedule I, there is interest in ...")
# and content-bearing ones ("With their rapid onset ..., these treatments offer hope") are not
# among them: dropping those changes or empties what is said.
_LEADING = re.compile(r"^(?:unlike|however|moreover|furthermore|additionally|overall|in recent years|for decades|"
                      r"recently|today|currently)\b", re.IGNORECASE)
_NOT_A_START = re.compile(r"^(?:which|who|whom|whose|where|leading|including|such|commonly|particularly|especially|"
                          r"and|or|but|with|the|a|an|to|of|in|for|on|at|from|by|as|is|are|was|were|has|have|"
                          r"had|\w+ing|\w+ed)\b", re.IGNORECASE)


def _clauses(sentence: str) -> list[str]:
    """The sentence, and, when it opens with a leading adjunct ("Unlike X, which ...,", "In
    recent years,"), the main clause after a top-level comma."""
    body = strip_label(sentence).strip()
    out = [body]
    if not _LEADING.match(body):
        return out
    depth = 0
    for i, char in enumerate(body):
        depth += char == "("
        depth = max(0, depth - (char == ")"))
        if char == "," and depth == 0:
            rest = body[i + 1:].strip()
            if len(rest.split()) >= MIN_WORDS and not _NOT_A_START.match(rest):
                out.append(rest[0].upper() + rest[1:])
    return out


def _with_marker(text: str, n: int) -> str:
    text = text.rstrip()
    end = re.search(r"[.!?][\"”’']?$", text)
    stop = end.group(0) if end else "."
    if end:
        text = text[: end.start()].rstrip()
    return f"{text} [{n}]{stop}"


def candidates(evidence: Sequence[Scored], sources: Sequence[Chunk], limit: int = 3,
               question: str = "") -> list[Candidate]:
    """Clause candidates from the first ``limit`` evidence sentences, each one the claim check
    accepts against its own source sentence. A main clause is offered only when the part it
    leaves out says nothing the question asks about ("how long do normal antidepressants take?"
    keeps "Unlike traditional antidepressants, which may take weeks to months, ...")."""
    from .grounding import covered
    from .textnorm import content_stems
    from .verify import verify

    asked = set(content_stems(question))
    out: list[Candidate] = []
    for scored in evidence[:limit]:
        whole = strip_label(scored.text).strip()
        for clause in _clauses(scored.text):
            if len(clause.split()) < MIN_WORDS or not verify(clause, scored.text).supported:
                continue
            if clause != whole:
                left_out = set(content_stems(whole[: max(0, len(whole) - len(clause))]))
                if any(covered(t, left_out) for t in asked):
                    continue
            out.append(Candidate(_with_marker(clause, scored.source + 1), scored.source, scored.text))
    return out
