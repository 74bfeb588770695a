"""The index type follows the corpus size: exact search while small, IVF past the threshold."""

from __future__ import annotations

import numpy as np
import pytest

from rag import index_store
from rag.index_store import APPROXIMATE_FROM, IndexStore, index_kind, ivf_lists, make_faiss_index, nprobe


def clustered(n: int, dim: int = 32, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(50, dim))
    v = centres[rng.integers(0, 50, n)] + 0.5 * rng.normal(size=(n, dim))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def test_kind_switches_at_the_measured_threshold():
    assert index_kind(APPROXIMATE_FROM - 1) == "flat"
    assert index_kind(APPROXIMATE_FROM) == f"IVF{ivf_lists(APPROXIMATE_FROM)}"
    assert ivf_lists(10**6) == 1000 and ivf_lists(100) == 64
    assert nprobe(ivf_lists(10**5)) == 39 and nprobe(ivf_lists(10**6)) == 64 and nprobe(64) == 16


def test_large_corpus_gets_an_ivf_index_with_high_recall(monkeypatch):
    monkeypatch.setattr(index_store, "APPROXIMATE_FROM", 3000)
    vectors = clustered(4000)
    index = make_faiss_index(vectors)
    assert type(index).__name__ == "IndexIVFFlat" and index.ntotal == 4000
    queries = clustered(50, seed=9)
    _, ids = index.search(queries, 10)
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, exact, strict=True)])
    assert recall >= 0.9


def test_ivf_index_survives_save_and_load_with_its_search_settings(tmp_path, monkeypatch):
    monkeypatch.setattr(index_store, "APPROXIMATE_FROM", 3000)
    vectors = clustered(4000)
    saved = IndexStore.save(tmp_path, {}, [], [], vectors)
    assert saved.manifest["index_type"] == "IndexIVFFlat"
    import faiss

    loaded = faiss.read_index(str(tmp_path / saved.manifest["files"]["faiss"]))
    assert loaded.nprobe == saved.faiss_index.nprobe > 1
    q = vectors[:5]
    assert (loaded.search(q, 5)[1] == saved.faiss_index.search(q, 5)[1]).all()


@pytest.mark.parametrize("n", [0, 1, 50])
def test_small_corpora_stay_exact(n):
    vectors = clustered(max(n, 1))[:n]
    index = make_faiss_index(vectors.reshape(n, 32))
    assert type(index).__name__ == "IndexFlatIP" and index.ntotal == n


def test_search_leaves_the_thread_count_of_other_libraries_alone():
    import faiss

    vectors = clustered(200)
    store = IndexStore({}, {}, [None] * 200, vectors, make_faiss_index(vectors))
    before = faiss.omp_get_max_threads()
    scores, ids = store.search(vectors[:2], 3)
    assert ids[:, 0].tolist() == [0, 1]
    assert faiss.omp_get_max_threads() == before
