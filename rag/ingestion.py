"""Corpus ▶ index, incrementally: only chunks whose text is new get embedded.

Vectors are reused by chunk id (a hash of document id, heading and text), so re-running on
an unchanged corpus embeds nothing and an edited document re-embeds only its own chunks.
"""

from __future__ import annotations

import hashlib
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .chunking import chunk_document
from .documents import load_corpus
from .embedding import Embedder
from .errors import IndexMismatchError, RagError
from .index_store import IndexStore

CHUNKER_VERSION = 1
LOCK_FILE = ".build.lock"


@dataclass(frozen=True)
class IngestReport:
    documents: int
    chunks: int
    embedded: int
    reused: int
    seconds: float
    changed: bool

    def summary(self) -> str:
        return (f"{self.documents} documents, {self.chunks} chunks ({self.embedded} embedded, "
                f"{self.reused} reused) in {self.seconds:.1f} s")


def index_expectations(embedder: Embedder, chunk_max_chars: int) -> dict:
    """Manifest fields that must match for an index to be usable with these settings."""
    return {"embedder_id": embedder.model_id, "dim": embedder.dim,
            "chunk_max_chars": chunk_max_chars, "chunker_version": CHUNKER_VERSION}


def corpus_fingerprint(corpus_dir: Path) -> str:
    """Hash of the corpus files' names and bytes: tells whether an index is stale, cheaply."""
    from .documents import iter_corpus

    h = hashlib.sha256()
    for path in iter_corpus(corpus_dir):
        h.update(path.name.encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())
        meta = path.with_name(path.name.removesuffix(path.suffix) + ".meta.json")
        if meta.exists():
            h.update(meta.read_bytes())
    return h.hexdigest()


def build_index(corpus_dir: Path, index_dir: Path, embedder: Embedder, chunk_max_chars: int = 480,
                rebuild: bool = False, progress: bool = False) -> tuple[IndexStore, IngestReport]:
    """The index for this corpus: loaded when current, else built (only new chunks embedded).

    Several app copies may share one index folder. A current index is only read, so the
    folder may be read-only; a build happens under a lock file, and a copy that waited for
    another's build loads that build instead of repeating it.
    """
    t0 = time.perf_counter()
    expect = index_expectations(embedder, chunk_max_chars)
    fingerprint = corpus_fingerprint(corpus_dir)
    previous = None if rebuild else _load_if_usable(index_dir, expect)
    if previous is not None and previous.manifest.get("corpus_fingerprint") == fingerprint:
        return previous, _unchanged(previous, t0)
    with build_lock(index_dir):
        if not rebuild:  # another copy may have built it while this one waited
            previous = _load_if_usable(index_dir, expect)
            if previous is not None and previous.manifest.get("corpus_fingerprint") == fingerprint:
                return previous, _unchanged(previous, t0)
        return _build(corpus_dir, index_dir, embedder, chunk_max_chars, expect, fingerprint, previous,
                      progress, t0)


def _load_if_usable(index_dir: Path, expect: dict) -> IndexStore | None:
    try:
        return IndexStore.load(index_dir, expect)
    except RagError:
        return None  # missing, damaged or built otherwise: embed everything


def _unchanged(store: IndexStore, t0: float) -> IngestReport:
    return IngestReport(len(store.documents), len(store.chunks), 0, len(store.chunks),
                        time.perf_counter() - t0, changed=False)


@contextmanager
def build_lock(index_dir: Path):
    """An exclusive lock, across processes, on building into ``index_dir``."""
    import fcntl

    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        handle = open(index_dir / LOCK_FILE, "a")
    except OSError as exc:
        raise RagError(f"the index in {index_dir} is missing or out of date and the folder cannot be written "
                       f"({exc.strerror}); build it with `python ingest.py` where it is writable") from exc
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, also if the process dies
        yield


def _build(corpus_dir: Path, index_dir: Path, embedder: Embedder, chunk_max_chars: int, expect: dict,
           fingerprint: str, previous: IndexStore | None, progress: bool,
           t0: float) -> tuple[IndexStore, IngestReport]:
    documents = load_corpus(corpus_dir)
    if not documents:
        raise RagError(f"no documents in {corpus_dir}; add .txt, .md, .html or .pdf files")
    chunks = [c for d in documents for c in chunk_document(d, chunk_max_chars)]
    known: dict[str, np.ndarray] = {}
    if previous is not None:
        known = {c.chunk_id: previous.vectors[i] for i, c in enumerate(previous.chunks)}
    todo = [i for i, c in enumerate(chunks) if c.chunk_id not in known]
    vectors = np.zeros((len(chunks), embedder.dim), dtype=np.float32)
    for i, c in enumerate(chunks):
        if c.chunk_id in known:
            vectors[i] = known[c.chunk_id]
    if todo:
        batch = 32
        bar = _progress(len(todo), progress)
        for s in range(0, len(todo), batch):
            rows = todo[s : s + batch]
            vectors[rows] = embedder.embed([chunks[i].embed_text() for i in rows])
            bar.update(len(rows))
        bar.close()
    if vectors.shape[1] != embedder.dim:
        raise IndexMismatchError("embedder returned vectors of an unexpected size")
    manifest = {**expect, "corpus_fingerprint": fingerprint,
                "documents": {d.doc_id: {"source": d.source_path, "title": d.title,
                                         "sha256": hashlib.sha256(d.text.encode()).hexdigest()}
                              for d in documents}}
    store = IndexStore.save(index_dir, manifest, documents, chunks, vectors)
    report = IngestReport(len(documents), len(chunks), len(todo), len(chunks) - len(todo),
                          time.perf_counter() - t0, changed=True)
    return store, report


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc="embedding chunks", unit="chunk", disable=not enabled)
