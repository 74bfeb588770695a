"""The only module that imports faiss: build, save atomically, load, check the manifest.

Layout of ``index/``: data files carry a build id in their names and ``manifest.json``
names the ones in use. The manifest is written last with an atomic rename, so a crash at
any point leaves the previous manifest pointing at the previous, complete files.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import tokenize
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .errors import IndexMismatchError, IndexMissingError
from .types import Chunk, Document

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
REBUILD = "rebuild it with `python ingest.py --rebuild`"
APPROXIMATE_FROM = 100_000  # measured (bench/bench_retrieval.py): below this, exact search is fast enough


def _faiss():
    import faiss

    return faiss


def ivf_lists(n: int) -> int:
    """Inverted lists for n vectors: about sqrt(n), so training and adding stay quick."""
    return max(64, int(n**0.5))


def nprobe(lists: int) -> int:
    """Lists searched per query: one in eight kept recall@10 near 1 in the benchmark; past
    64 lists (a million chunks) more probes only added time at the same recall."""
    return max(16, min(lists // 8, 64))


def index_kind(n: int) -> str:
    """Exact search while it stays fast; an inverted-file index (IVF) past that, because it
    builds in seconds where HNSW takes minutes on a small CPU, at a similar recall."""
    return "flat" if n < APPROXIMATE_FROM else f"IVF{ivf_lists(n)}"


def make_faiss_index(vectors: np.ndarray, seed: int = 0):
    """The index ``index_kind`` names, filled with ``vectors`` (inner product on unit vectors)."""
    faiss = _faiss()
    n, dim = vectors.shape
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if index_kind(n) == "flat":
        index = faiss.IndexFlatIP(dim)
    else:
        lists = ivf_lists(n)
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, lists, faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(seed).choice(n, min(n, 40 * lists), replace=False)
        index.train(vectors[np.sort(sample)])
        index.nprobe = nprobe(lists)  # saved with the index
    if n:
        index.add(vectors)
    return index


def _atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same folder, then rename over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class IndexStore:
    """Chunks, their vectors, the documents they came from, and a FAISS index over the vectors."""

    manifest: dict
    documents: dict[str, Document]
    chunks: list[Chunk]
    vectors: np.ndarray
    faiss_index: object

    def search(self, query_vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, row ids) of the k best chunks per query; row id -1 means no result."""
        k = max(1, min(k, len(self.chunks)))
        if not self.chunks:
            n = len(query_vectors)
            return np.zeros((n, 0), np.float32), np.zeros((n, 0), np.int64)
        # A few queries are too little work to share: OpenMP threads spin-waiting for a core
        # the language model is using made one search 10-20x slower. The setting is per
        # thread; it is put back so models running in this thread keep their threads.
        faiss = _faiss()
        before = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            return self.faiss_index.search(np.ascontiguousarray(query_vectors, dtype=np.float32), k)
        finally:
            faiss.omp_set_num_threads(before)

    # --- persistence -------------------------------------------------------------------
    @staticmethod
    def save(index_dir: Path, manifest: dict, documents: list[Document], chunks: list[Chunk],
             vectors: np.ndarray) -> IndexStore:
        index_dir.mkdir(parents=True, exist_ok=True)
        build = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
        files = {
            "documents": f"documents.{build}.json",
            "chunks": f"chunks.{build}.jsonl",
            "vectors": f"vectors.{build}.npy",
            "faiss": f"faiss.{build}.index",
        }
        faiss_index = make_faiss_index(vectors)
        _atomic_write(index_dir / files["documents"], lambda p: p.write_text(
            json.dumps([asdict(d) for d in documents], ensure_ascii=False), encoding="utf-8"))
        _atomic_write(index_dir / files["chunks"], lambda p: p.write_text(
            "".join(json.dumps(asdict(c), ensure_ascii=False) + "\n" for c in chunks), encoding="utf-8"))

        def write_npy(p: Path) -> None:
            with open(p, "wb") as fh:
                np.save(fh, vectors.astype(np.float32))

        _atomic_write(index_dir / files["vectors"], write_npy)
        _atomic_write(index_dir / files["faiss"], lambda p: _faiss().write_index(faiss_index, str(p)))
        manifest = {**manifest, "format_version": FORMAT_VERSION, "build": build, "files": files,
                    "chunks": len(chunks), "documents_count": len(documents),
                    "index_type": type(faiss_index).__name__}
        _atomic_write(index_dir / MANIFEST, lambda p: p.write_text(json.dumps(manifest, indent=2), encoding="utf-8"))
        _remove_other_builds(index_dir, set(files.values()))
        return IndexStore(manifest, {d.doc_id: d for d in documents}, chunks, vectors, faiss_index)

    @staticmethod
    def read_manifest(index_dir: Path) -> dict | None:
        path = index_dir / MANIFEST
        if not path.exists():
            return None
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise IndexMismatchError(f"{path} is damaged ({exc}); {REBUILD}") from exc
        if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
            raise IndexMismatchError(f"{path} is damaged (not an index manifest); {REBUILD}")
        return manifest

    @staticmethod
    def load(index_dir: Path, expect: dict | None = None) -> IndexStore:
        """Load and check the index; ``expect`` holds manifest fields that must match."""
        manifest = IndexStore.read_manifest(index_dir)
        if manifest is None:
            raise IndexMissingError(f"no index in {index_dir}; build it with `python ingest.py`")
        check_manifest(manifest, expect or {})
        files = manifest["files"]
        try:
            raw_docs = json.loads((index_dir / files["documents"]).read_text(encoding="utf-8"))
            documents = [Document(**d) for d in raw_docs]
            with open(index_dir / files["chunks"], encoding="utf-8") as fh:
                chunks = [Chunk(**json.loads(line)) for line in fh if line.strip()]
            # Mapped first, so a damaged header claiming a huge shape fails on the file size
            # instead of allocating it; then copied, so the file can be replaced under a running app.
            vectors = np.array(np.load(index_dir / files["vectors"], mmap_mode="r"))
            faiss_index = _faiss().read_index(str(index_dir / files["faiss"]))
        # numpy parses a .npy header with ast and, failing that, tokenize: a damaged header can raise either.
        except (OSError, EOFError, ValueError, TypeError, KeyError, AttributeError, RuntimeError, SyntaxError,
                tokenize.TokenError, MemoryError) as exc:
            raise IndexMismatchError(
                f"the index in {index_dir} is incomplete or damaged ({type(exc).__name__}); "
                "rebuild it with `python ingest.py --rebuild`"
            ) from exc
        if (getattr(faiss_index, "ntotal", None) != len(chunks) or getattr(vectors, "ndim", 0) != 2
                or len(vectors) != len(chunks) or vectors.shape[1] != faiss_index.d):
            raise IndexMismatchError(f"the index in {index_dir} is inconsistent; {REBUILD}")
        by_id = _documents_matching(documents, chunks)
        if by_id is None:
            # Quotes are cut from the documents by these offsets: wrong ones would misquote the articles.
            raise IndexMismatchError(f"the index in {index_dir} has chunks that do not match their documents; "
                                     f"{REBUILD}")
        return IndexStore(manifest, by_id, chunks, vectors, faiss_index)


def _documents_matching(documents: list[Document], chunks: list[Chunk]) -> dict[str, Document] | None:
    """Documents by id when every chunk is exactly its document's text at its offsets, else None."""
    try:
        by_id = {d.doc_id: d for d in documents}
        ok = all(type(c.start) is int and type(c.end) is int and by_id[c.doc_id].text[c.start : c.end] == c.text
                 for c in chunks)
    except (TypeError, KeyError, AttributeError):
        return None
    return by_id if ok else None


def check_manifest(manifest: dict, expect: dict) -> None:
    """Raise a clear error when the index was built with other settings than these."""
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"the index has format version {manifest.get('format_version')}, this program reads "
            f"{FORMAT_VERSION}; rebuild it with `python ingest.py --rebuild`"
        )
    for key, want in expect.items():
        have = manifest.get(key)
        if have != want:
            raise IndexMismatchError(
                f"the index was built with {key}={have!r} but the settings ask for {want!r}; "
                "rebuild it with `python ingest.py --rebuild` (or change the settings back)"
            )


def _remove_other_builds(index_dir: Path, keep: set[str]) -> None:
    for path in index_dir.iterdir():
        if path.name == MANIFEST or path.name in keep:
            continue
        if path.name.split(".")[0] in {"documents", "chunks", "vectors", "faiss"} or path.name.endswith(".tmp"):
            path.unlink(missing_ok=True)
