"""Load the clinic's documents (txt, md, html, pdf) and clean away web-page leftovers.

Offsets in citations point into the *cleaned* text, so cleaning never rewrites a sentence:
it only drops whole lines (bare links, "Similar Posts" and what follows, a category label)
and trims whitespace around lines.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

from .errors import RagError
from .types import Document

log = logging.getLogger(__name__)
SUPPORTED = (".txt", ".md", ".html", ".htm", ".pdf")
META_SUFFIX = ".meta.json"

# A line that starts the page's footer: everything from it on is other pages' teasers.
_FOOTER = re.compile(
    r"^(similar posts|related posts|related articles|you may also like|share this( post)?:?|"
    r"leave a reply|leave a comment|post navigation|like this:?)\s*$",
    re.IGNORECASE,
)
_BARE_URL = re.compile(r"^(https?://|www\.)\S+$", re.IGNORECASE)
_MD_HEADING = re.compile(r"^#{1,6}\s+")


def _without_instructions(line: str) -> str:
    """The line minus sentences addressed to the assistant (text planted to steer it)."""
    from .chunking import split_sentences
    from .safety import addressed_to_the_assistant

    spans = split_sentences(line)
    kept = [line[s:e] for s, e in spans if not addressed_to_the_assistant(line[s:e])]
    if len(kept) == len(spans):
        return line
    log.warning("left out %d sentence(s) addressed to the assistant", len(spans) - len(kept))
    return " ".join(kept)


def clean_text(raw: str, category: str | None = None) -> str:
    """Drop page leftovers and planted instructions; never rewrite a kept sentence."""
    lines = [line.strip() for line in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    kept: list[str] = []
    for line in lines:
        if _FOOTER.match(line):
            break
        if _BARE_URL.match(line):
            continue
        kept.append(_without_instructions(line) if line else line)
    while kept and not kept[0]:
        kept.pop(0)
    if category and kept and kept[0].casefold() == category.strip().casefold():
        kept.pop(0)
    text = "\n".join(kept)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _read_txt(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _read_md(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    if text.startswith("---\n"):  # front matter is metadata, not article text
        end = text.find("\n---", 4)
        if end != -1:
            text = text[end + 4 :]
    return "\n".join(_MD_HEADING.sub("", line) for line in text.split("\n"))


def _md_front_matter(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        return {}
    end = text.find("\n---", 4)
    meta = {}
    for line in text[4:end].split("\n"):
        key, sep, value = line.partition(":")
        if sep:
            meta[key.strip()] = value.strip().strip("\"'")
    return meta


def _read_html(path: Path) -> tuple[str, dict]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(path.read_text(encoding="utf-8", errors="replace"), "html.parser")
    meta = {}
    if soup.title and soup.title.string:
        meta["title"] = soup.title.string.strip()
    for tag in soup(["script", "style", "nav", "header", "footer", "aside", "form", "noscript"]):
        tag.decompose()
    body = soup.find("article") or soup.find("main") or soup.body or soup
    h1 = body.find("h1")
    if h1:
        meta["title"] = h1.get_text(" ", strip=True)
    blocks = body.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "blockquote", "pre"])
    text = "\n\n".join(b.get_text(" ", strip=True) for b in blocks if not b.find(["p", "li"]))
    return text or body.get_text("\n", strip=True), meta


def _read_pdf(path: Path) -> str:
    from pypdf import PdfReader

    return "\n\n".join((page.extract_text() or "") for page in PdfReader(path).pages)


def load_document(path: Path) -> Document:
    """Read one file plus its optional ``<file>.meta.json`` (title, url, category)."""
    suffix = path.suffix.lower()
    meta: dict = {}
    if suffix == ".html" or suffix == ".htm":
        raw, meta = _read_html(path)
    elif suffix == ".pdf":
        raw = _read_pdf(path)
    elif suffix == ".md":
        raw, meta = _read_md(path), _md_front_matter(path)
    elif suffix == ".txt":
        raw = _read_txt(path)
    else:
        raise RagError(f"{path.name}: unsupported file type; use one of {', '.join(SUPPORTED)}")
    sidecar = path.with_name(path.name.removesuffix(path.suffix) + META_SUFFIX)
    if sidecar.exists():
        try:
            meta.update(json.loads(sidecar.read_text(encoding="utf-8")))
        except json.JSONDecodeError as exc:
            raise RagError(f"{sidecar.name} is not valid JSON ({exc}); fix it or delete it") from exc
    text = clean_text(raw, meta.get("category"))
    if not text:
        raise RagError(f"{path.name} has no text after cleaning; is it empty or a scanned image?")
    title = meta.get("title") or text.split("\n", 1)[0][:120]
    return Document(
        doc_id=path.stem,
        title=title,
        text=text,
        url=meta.get("url"),
        category=meta.get("category"),
        source_path=path.name,
    )


def iter_corpus(corpus_dir: Path) -> Iterator[Path]:
    """The document files of a corpus folder, in a stable order."""
    if not corpus_dir.is_dir():
        raise RagError(f"corpus folder {corpus_dir} does not exist; create it and add .txt/.md/.html/.pdf files")
    for path in sorted(corpus_dir.iterdir()):
        if path.is_file() and path.suffix.lower() in SUPPORTED and not path.name.startswith("."):
            yield path


def load_corpus(corpus_dir: Path) -> list[Document]:
    docs = [load_document(p) for p in iter_corpus(corpus_dir)]
    seen: dict[str, str] = {}
    for d in docs:
        if d.doc_id in seen:
            raise RagError(f"two documents share the id {d.doc_id!r} ({seen[d.doc_id]}, {d.source_path}); rename one")
        seen[d.doc_id] = d.source_path or ""
    return docs
