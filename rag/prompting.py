"""Prompt templates as data, and numbered sources packed into a token budget.

The sources are numbered [1]..[n] in the order the retriever ranked them; the grounding
check maps the model's [n] markers back to these chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .types import Hit

SYSTEM = (
    "You are a helpful assistant for a psychiatry clinic. Answer only from the sources. "
    "Copy the wording of the sources. Answer in one or two short sentences and end each "
    "sentence with its source number, like [1]."
)
USER = "Sources:\n{sources}\n\n{earlier}Question: {question}"
EARLIER = "Earlier question: {previous}\n"
SOURCE = "[{n}] {heading}{text}"


@dataclass(frozen=True)
class Prompt:
    messages: list[dict[str, str]]
    sources: list[Hit]  # sources[i] is what the model calls [i + 1]


def sentence_prompt(question: str, sentences: Sequence[tuple[int, str]],
                    history: Sequence[Mapping[str, str]] = ()) -> list[dict[str, str]]:
    """The same prompt holding only the sentences an answer may copy, each under its source's
    number: the model only picks among them, and a shorter prompt is read (prefilled) sooner."""
    earlier = _earlier(history)
    lines = [SOURCE.format(n=n, heading="", text=text) for n, text in sentences]
    user = USER.format(sources="\n".join(lines), earlier=earlier, question=question)
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def _earlier(history: Sequence[Mapping[str, str]]) -> str:
    """The patient's previous question, so a follow-up ("and how long?") can be read."""
    previous = [t["content"] for t in history if t.get("role") == "user" and t.get("content")]
    return EARLIER.format(previous=previous[-1][:300]) if previous else ""


def _approx_tokens(text: str) -> int:
    return len(text) // 3 + 1  # a cautious estimate for English BPE vocabularies


def build_prompt(question: str, hits: Sequence[Hit], history: Sequence[Mapping[str, str]] = (),
                 token_budget: int = 700, count_tokens: Callable[[str], int] | None = None) -> Prompt:
    """Number the hits as sources, keeping whole sources while they fit the budget."""
    count = count_tokens or _approx_tokens
    earlier = _earlier(history)
    used = count(SYSTEM) + count(USER.format(sources="", earlier=earlier, question=question))
    lines: list[str] = []
    kept: list[Hit] = []
    for hit in hits:
        heading = f"{hit.chunk.heading}: " if hit.chunk.heading else ""
        line = SOURCE.format(n=len(kept) + 1, heading=heading, text=hit.chunk.text)
        cost = count(line)
        if kept and used + cost > token_budget:
            break
        lines.append(line)
        kept.append(hit)
        used += cost
    user = USER.format(sources="\n".join(lines), earlier=earlier, question=question)
    return Prompt([{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}], kept)
