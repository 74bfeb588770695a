"""Several app copies over one index folder: simultaneous first starts build once, a current
index is only read (so the folder may be read-only), and requests leave no state behind."""

from __future__ import annotations

import json
import multiprocessing
import time

import pytest
from fastapi.testclient import TestClient

from rag.errors import RagError
from rag.index_store import MANIFEST
from rag.ingestion import build_index
from rag.pipeline import Pipeline
from tests.fakes import HashingEmbedder, ScriptedGenerator


class SlowEmbedder(HashingEmbedder):
    """Slow enough that two starts overlap for certain."""

    def embed(self, texts):
        time.sleep(1.0)
        return super().embed(texts)


def _start_copy(corpus_dir, index_dir, go, results):
    go.wait(60)  # all copies start their build at the same moment
    store, report = build_index(corpus_dir, index_dir, SlowEmbedder())
    results.put((report.embedded, store.manifest["build"], len(store.chunks)))


def test_copies_starting_together_on_an_empty_index_build_it_once(settings):
    ctx = multiprocessing.get_context("spawn")  # no fork: the parent may run OpenMP or torch threads
    results, go = ctx.Queue(), ctx.Event()
    copies = [ctx.Process(target=_start_copy, args=(settings.corpus_dir, settings.index_dir, go, results))
              for _ in range(3)]
    for p in copies:
        p.start()
    time.sleep(0.5)
    go.set()
    for p in copies:
        p.join(60)
        assert p.exitcode == 0
    got = [results.get(timeout=5) for _ in copies]
    embedded = sorted(n for n, _, _ in got)
    chunks = got[0][2]
    assert embedded == [0, 0, chunks], "exactly one copy embedded the corpus; the others loaded its build"
    assert len({build for _, build, _ in got}) == 1
    manifest = json.loads((settings.index_dir / MANIFEST).read_text())
    assert manifest["build"] == got[0][1]
    data_files = [p.name for p in settings.index_dir.iterdir() if not p.name.startswith(".")
                  and p.name != MANIFEST]
    assert len(data_files) == 4 and all(manifest["build"] in name for name in data_files)


def test_a_current_index_is_only_read(settings, embedder):
    """Copies that find a current index write nothing, so the folder can be mounted read-only."""
    built, _ = build_index(settings.corpus_dir, settings.index_dir, embedder)
    (settings.index_dir / ".build.lock").unlink()
    before = {p.name: p.stat().st_mtime_ns for p in settings.index_dir.iterdir()}
    store, report = build_index(settings.corpus_dir, settings.index_dir, embedder)
    assert not report.changed and store.manifest["build"] == built.manifest["build"]
    assert {p.name: p.stat().st_mtime_ns for p in settings.index_dir.iterdir()} == before


def test_a_stale_index_that_cannot_be_written_says_what_to_do(settings, embedder, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with pytest.raises(RagError, match="cannot be written.*python ingest.py"):
        build_index(settings.corpus_dir, blocker / "index", embedder)


def test_the_api_keeps_nothing_between_requests(settings, store, embedder):
    """A follow-up means the same with or without an earlier request on this copy: the
    conversation comes from the client, so any copy behind a load balancer can answer it."""
    from app import create_app

    reply = "Ketamine can induce rapid antidepressant effects within hours to days [1]."
    first = create_app(settings, Pipeline(settings, store, embedder, ScriptedGenerator(reply)))
    fresh = create_app(settings, Pipeline(settings, store, embedder, ScriptedGenerator(reply)))
    history = [{"role": "user", "content": "What is ketamine used for?"},
               {"role": "assistant", "content": "It is used for treatment-resistant depression."}]
    follow_up = {"question": "How fast does it work?", "history": history}
    with TestClient(first) as a, TestClient(fresh) as b:
        a.post("/api/ask", json={"question": "What is ketamine used for?"})
        warm = a.post("/api/ask", json=follow_up).json()
        cold = b.post("/api/ask", json=follow_up).json()
        alone = a.post("/api/ask", json={"question": "How fast does it work?"}).json()
    for key in ("answer", "status", "citations"):
        assert warm[key] == cold[key]
    assert warm["status"] == "answered"
    assert alone["answer"] != warm["answer"] or alone["status"] != warm["status"]  # history did the work


def _vote(path, n, vote):
    from rag.chat_ui import FeedbackStore

    store = FeedbackStore(path)
    for _ in range(n):
        store.record("Is ketamine safe?", vote)


def test_copies_sharing_a_feedback_file_lose_no_votes(tmp_path):
    from rag.chat_ui import FeedbackStore

    path = tmp_path / "feedback.json"
    ctx = multiprocessing.get_context("spawn")  # no fork: the parent may run OpenMP or torch threads
    copies = [ctx.Process(target=_vote, args=(path, 40, vote)) for vote in ("up", "up", "down")]
    for p in copies:
        p.start()
    for p in copies:
        p.join(60)
        assert p.exitcode == 0
    data = FeedbackStore(path).read()
    assert data["totals"] == {"up": 80, "down": 40}
    assert data["questions"]["Is ketamine safe?"] == {"up": 80, "down": 40}


def test_a_copy_that_converts_the_model_second_uses_the_first_copys_weights(tmp_path, monkeypatch):
    """Two copies starting on an empty cache both convert; the second must not fail on the first's folder."""
    import transformers

    from rag.generation import TransformersGenerator

    class Saved:
        def __init__(self, name):
            self.name, self.config = name, type("Config", (), {})()

        def save_pretrained(self, folder):
            (folder / f"{self.name}.json").write_text("{}")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", lambda *a, **k: Saved("config"))
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", lambda *a, **k: Saved("tokenizer"))
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    target = tmp_path / "cache" / "model-converted"
    TransformersGenerator._convert(gguf, target)
    first = (target / "config.json").stat().st_mtime_ns
    TransformersGenerator._convert(gguf, target)  # the slower copy finishes second
    assert (target / "config.json").stat().st_mtime_ns == first
    assert [p.name for p in target.parent.iterdir()] == ["model-converted"]  # its own attempt cleaned up
