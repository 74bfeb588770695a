"""The shared vocabulary: documents, chunks, hits, citations and answers.

Plain frozen dataclasses so every module (and every test) speaks the same language
without importing anything heavy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

Status = Literal["answered", "not_found", "crisis", "declined"]
STATUSES: tuple[str, ...] = ("answered", "not_found", "crisis", "declined")


@dataclass(frozen=True)
class Document:
    """One cleaned source document; offsets everywhere refer to ``text``."""

    doc_id: str
    title: str
    text: str
    url: str | None = None
    category: str | None = None
    source_path: str | None = None


@dataclass(frozen=True)
class Chunk:
    """A retrievable span of a document: ``doc.text[start:end] == text``."""

    chunk_id: str
    doc_id: str
    start: int
    end: int
    text: str
    heading: str = ""
    ordinal: int = 0

    def embed_text(self) -> str:
        """What gets embedded and indexed: the heading gives a list item its context."""
        return f"{self.heading}: {self.text}" if self.heading else self.text


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with the scores that ranked it."""

    chunk: Chunk
    score: float
    dense: float = 0.0
    lexical: float = 0.0


@dataclass(frozen=True)
class Citation:
    """A verbatim quote of document ``doc_id`` at ``[start, end)`` of its cleaned text."""

    n: int
    doc_id: str
    title: str
    quote: str
    start: int
    end: int
    url: str | None = None


SMALL_TALK = "small talk"  # the reason on the welcome to a greeting or thanks (declined in status only)
LANGUAGE = "not in English"  # leads the reason on a not_found reply to a message in another language


@dataclass
class Answer:
    """What the assistant says, in the REST shape of the design contract."""

    answer: str
    status: Status
    citations: list[Citation] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    notice: str | None = None
    reason: str | None = None  # why the articles do not answer it (on not_found); SMALL_TALK on a welcome,
    # LANGUAGE on the reply to a message in another language
    mode: str | None = None  # on answered: "generated" (the model's checked sentences) or "quoted"

    def to_dict(self) -> dict:
        data = {
            "answer": self.answer,
            "status": self.status,
            "citations": [asdict(c) for c in self.citations],
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
        }
        if self.notice:
            data["notice"] = self.notice
        if self.reason:
            data["reason"] = self.reason
        if self.mode:
            data["mode"] = self.mode
        return data
