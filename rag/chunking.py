"""Pure text ▶ chunks, cut on sentence and list-item boundaries, with exact offsets.

A chunk never crosses a section: its heading travels with it (in ``Chunk.heading``) so a
list item such as "Sustained Effects: ..." is still found by a question about ketamine.
Ids are content hashes, so an unchanged chunk keeps its id (and its cached vector) when
other documents change.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

from .types import Chunk, Document

_LIST_MARKER = re.compile(r"^(?:\d{1,3}[.)]|[-*•◦▪–])\s+")
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*(?=\s+[\"“‘(\[]?[A-Z0-9])")
_ABBREVIATIONS = {
    "dr", "mr", "mrs", "ms", "prof", "vs", "etc", "e.g", "i.e", "no", "fig", "approx", "st", "u.s",
    "inc", "jr", "sr", "al",
}
HEADING_MAX_CHARS = 90


def split_sentences(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Sentence spans ``[start, end)`` of ``text`` (shifted by ``offset``), trimmed of spaces."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        word = re.search(r"(\S+)$", text[start : m.start()])
        token = word.group(1).lower().rstrip(".") if word else ""
        if token in _ABBREVIATIONS or re.fullmatch(r"[a-z]", token):
            continue
        spans.append((start, m.end()))
        start = m.end()
    spans.append((start, len(text)))
    out = []
    for s, e in spans:
        chunk = text[s:e]
        lead = len(chunk) - len(chunk.lstrip())
        trail = len(chunk) - len(chunk.rstrip())
        if e - trail > s + lead:
            out.append((offset + s + lead, offset + e - trail))
    return out


def is_heading(line: str) -> bool:
    """A short line without closing punctuation that is not a list item reads as a heading."""
    line = line.strip()
    return (
        0 < len(line) <= HEADING_MAX_CHARS
        and not _LIST_MARKER.match(line)
        and line[-1] not in ".!?:;,"
        and any(c.isalpha() for c in line)
    )


def _lines(text: str) -> Iterator[tuple[int, int]]:
    pos = 0
    for line in text.split("\n"):
        yield pos, pos + len(line)
        pos += len(line) + 1


def _blocks(text: str) -> Iterator[tuple[str, int, int]]:
    """('heading' | 'item' | 'para', start, end) for each line-level block of ``text``.

    Lines of a wrapped paragraph (no blank line between them) are joined into one block.
    """
    para: tuple[int, int] | None = None
    for s, e in _lines(text):
        line = text[s:e]
        if not line.strip():
            if para:
                yield ("para", *para)
                para = None
            continue
        marker = _LIST_MARKER.match(line)
        standalone = is_heading(line) and (para is None)
        if marker or standalone:
            if para:
                yield ("para", *para)
                para = None
            if marker:
                yield ("item", s + marker.end(), e)
            else:
                yield ("heading", s, e)
        else:
            para = (para[0], e) if para else (s, e)
    if para:
        yield ("para", *para)


def chunk_id(doc_id: str, heading: str, text: str) -> str:
    return hashlib.sha256(f"{doc_id}\x00{heading}\x00{text}".encode()).hexdigest()[:16]


def chunk_document(doc: Document, max_chars: int = 480) -> list[Chunk]:
    """Cut ``doc.text`` into chunks of whole sentences, at most ``max_chars`` where possible."""
    text = doc.text
    chunks: list[Chunk] = []
    heading = ""
    seen: dict[str, int] = {}

    def emit(s: int, e: int) -> None:
        body = text[s:e]
        cid = chunk_id(doc.doc_id, heading, body)
        if cid in seen:  # the same sentence twice under one heading: keep ids unique and stable
            seen[cid] += 1
            cid = chunk_id(doc.doc_id, heading, f"{body}\x00{seen[cid]}")
        else:
            seen[cid] = 0
        chunks.append(Chunk(cid, doc.doc_id, s, e, body, heading, len(chunks)))

    for kind, s, e in _blocks(text):
        if kind == "heading":
            heading = text[s:e].strip()
            continue
        group_start = group_end = None
        for ss, se in split_sentences(text[s:e], s):
            if group_start is not None and se - group_start > max_chars:
                emit(group_start, group_end)
                group_start = None
            if group_start is None:
                group_start = ss
            group_end = se
        if group_start is not None:
            emit(group_start, group_end)
    return chunks


def sentences_of(chunk: Chunk) -> list[tuple[int, int]]:
    """Document-level spans of the sentences inside one chunk."""
    return split_sentences(chunk.text, chunk.start)
