import json

import numpy as np
import pytest

from rag.errors import IndexMismatchError, IndexMissingError
from rag.index_store import MANIFEST, IndexStore, make_faiss_index
from rag.ingestion import build_index, index_expectations
from tests.fakes import HashingEmbedder


def test_faiss_matches_brute_force_numpy():
    rng = np.random.default_rng(7)
    vecs = rng.normal(size=(500, 32)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    queries = rng.normal(size=(20, 32)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    scores, ids = make_faiss_index(vecs).search(queries, 10)
    exact = queries @ vecs.T
    want = np.argsort(-exact, axis=1)[:, :10]
    assert (ids == want).all()
    np.testing.assert_allclose(scores, np.take_along_axis(exact, want, 1), rtol=1e-5, atol=1e-5)


def test_ingest_writes_manifest_and_loads_back(settings, embedder):
    store, report = build_index(settings.corpus_dir, settings.index_dir, embedder)
    assert report.documents == 1 and report.chunks == len(store.chunks) > 10
    manifest = json.loads((settings.index_dir / MANIFEST).read_text())
    assert manifest["embedder_id"] == embedder.model_id and manifest["dim"] == embedder.dim
    loaded = IndexStore.load(settings.index_dir, index_expectations(embedder, settings.chunk_max_chars))
    assert [c.chunk_id for c in loaded.chunks] == [c.chunk_id for c in store.chunks]
    doc = loaded.documents[loaded.chunks[0].doc_id]
    assert all(doc.text[c.start : c.end] == c.text for c in loaded.chunks)


def test_rerun_on_unchanged_corpus_embeds_nothing(settings):
    first = HashingEmbedder()
    build_index(settings.corpus_dir, settings.index_dir, first)
    again = HashingEmbedder()
    _, report = build_index(settings.corpus_dir, settings.index_dir, again)
    assert again.texts_embedded == 0 and not report.changed


def test_changed_document_is_reembedded_alone(settings):
    build_index(settings.corpus_dir, settings.index_dir, HashingEmbedder())
    (settings.corpus_dir / "sleep.md").write_text("# Sleep\n\nSleep matters for mood. Rest helps recovery.\n")
    emb = HashingEmbedder()
    store, report = build_index(settings.corpus_dir, settings.index_dir, emb)
    assert report.changed and report.embedded == emb.texts_embedded == 1  # one new chunk, the rest reused
    assert len(store.documents) == 2
    # vectors of reused chunks equal a fresh embedding of the same text
    fresh = HashingEmbedder().embed([c.embed_text() for c in store.chunks])
    np.testing.assert_allclose(store.vectors, fresh, atol=1e-6)


def test_manifest_mismatch_gives_a_clear_error(settings, embedder):
    build_index(settings.corpus_dir, settings.index_dir, embedder)
    with pytest.raises(IndexMismatchError, match="embedder_id.*ingest.py --rebuild"):
        IndexStore.load(settings.index_dir, {"embedder_id": "other-model"})
    manifest = json.loads((settings.index_dir / MANIFEST).read_text())
    manifest["format_version"] = 99
    (settings.index_dir / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match="format version 99"):
        IndexStore.load(settings.index_dir)


def test_missing_index_says_which_command_to_run(tmp_path):
    with pytest.raises(IndexMissingError, match="python ingest.py"):
        IndexStore.load(tmp_path / "nowhere")


def test_a_crash_while_writing_leaves_the_previous_index_usable(settings, embedder, monkeypatch):
    before, _ = build_index(settings.corpus_dir, settings.index_dir, embedder)
    (settings.corpus_dir / "extra.txt").write_text("Extra\n\nA brand new paragraph about sleep.\n")
    import rag.index_store as index_store

    calls = {"n": 0}
    real = index_store._atomic_write

    def crash_on_third(path, write):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("power cut")
        return real(path, write)

    monkeypatch.setattr(index_store, "_atomic_write", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        build_index(settings.corpus_dir, settings.index_dir, embedder)
    monkeypatch.undo()
    after = IndexStore.load(settings.index_dir)
    assert [c.chunk_id for c in after.chunks] == [c.chunk_id for c in before.chunks]
    assert not list(settings.index_dir.glob(".*.tmp"))


def test_damaged_manifest_is_reported(settings, embedder):
    build_index(settings.corpus_dir, settings.index_dir, embedder)
    (settings.index_dir / MANIFEST).write_text("{not json")
    with pytest.raises(IndexMismatchError, match="damaged"):
        IndexStore.load(settings.index_dir)
