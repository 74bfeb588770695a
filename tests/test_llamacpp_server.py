"""The OpenAI-compatible backend against a real inference server: llama.cpp's own server,
embedded in the prebuilt ``xllamacpp`` wheel (``tests/llamacpp_server.py``), serving the
packaged SmolLM2 GGUF on loopback. ``make test`` runs them; ``make test-llamacpp`` runs only them.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from rag.openai_backend import OpenAIGenerator
from rag.pipeline import Pipeline
from tests.fake_openai_server import free_port

pytestmark = [
    pytest.mark.llamacpp,
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("xllamacpp") is None,
                       reason="xllamacpp is not installed (requirements-dev.txt)"),
]
QUESTION = "How quickly does ketamine work for depression?"
ROOT = Path(__file__).resolve().parents[1]
STARTUP_S = 120


def packaged_gguf():
    from rag.embedding import package_dir
    from rag.generation import PACKAGED_GGUF

    module, pip_name, filename = PACKAGED_GGUF["smollm2"]
    return package_dir(module, pip_name) / filename


@contextmanager
def serve_packaged_gguf(log_dir):
    """The packaged GGUF served on a free loopback port, as a clinic would run it; yields its URL."""
    port = free_port()
    log_path = log_dir / f"server-{port}.log"
    command = [sys.executable, "-m", "tests.llamacpp_server", "--model", str(packaged_gguf()),
               "--host", "127.0.0.1", "--port", str(port), "--ctx", "2048",
               "--threads", str(min(2, os.cpu_count() or 1)), "--alias", "smollm2"]
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"the llama.cpp server exited with {process.returncode}:\n{log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/v1/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the llama.cpp server did not start in {STARTUP_S} s:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    with serve_packaged_gguf(tmp_path_factory.mktemp("llama")) as url:
        yield url


def generator(url: str, **kw) -> OpenAIGenerator:
    return OpenAIGenerator(url, **{"read_timeout_s": 60.0, "total_timeout_s": 120.0, "max_new_tokens": 48, **kw})


def test_the_real_server_streams_a_reply(llama_server):
    gen = generator(llama_server)
    pieces = list(gen.stream([{"role": "user", "content": "Name one colour of the sky."}]))
    assert len(pieces) > 3, pieces  # token by token, not one block
    assert "".join(pieces).strip()
    assert gen.model == "smollm2"  # discovered from the server's model list
    assert gen.reachable() is True


def test_the_assistant_answers_through_the_real_server(llama_server, settings, store, embedder):
    """Article question ▶ prompt ▶ llama.cpp ▶ grounding check: a checked, cited answer, no fallback."""
    from app import create_app

    pipeline = Pipeline(settings, store, embedder, generator(llama_server, max_new_tokens=72))
    with TestClient(create_app(settings, pipeline)) as http:
        body = http.post("/api/ask", json={"question": QUESTION}).json()
        health = http.get("/healthz").json()
    assert body["status"] == "answered" and body["citations"]
    assert "notice" not in body or not body["notice"], body.get("notice")  # the server answered; no fallback
    assert body["timings_ms"]["generate"] > 0
    for c in body["citations"]:
        assert store.documents[c["doc_id"]].text[c["start"] : c["end"]] == c["quote"]
    assert health["models"]["generator_backend"] == "openai-compatible server"
    assert health["models"]["generator_reachable"] is True


def test_closing_a_stream_frees_the_server_for_the_next_patient(llama_server):
    """The server works on one request at a time: a hang-up must stop the work it was doing.

    Greedy decoding writes this story past 300 tokens; the rest of 1500 would take a minute or
    more even on a quiet machine, so a next answer that starts within 20 s shows the server
    stopped, with room for a busy machine.
    """
    messages = [{"role": "user", "content": "Write a very long story about the sea."}]
    long = generator(llama_server, max_new_tokens=1500).stream(messages)
    next(long)
    next(long)
    long.close()
    t0 = time.monotonic()
    quick = generator(llama_server, max_new_tokens=4).stream([{"role": "user", "content": "Say hi."}])
    next(quick)
    waited = time.monotonic() - t0
    quick.close()
    assert waited < 20.0, f"the next request waited {waited:.1f} s"


def test_answers_fall_back_to_quotes_when_the_server_stops(settings, store, embedder, tmp_path):
    with serve_packaged_gguf(tmp_path) as url:
        pipeline = Pipeline(settings, store, embedder, generator(url, retries=1, connect_timeout_s=1.0))
        before = pipeline.ask(QUESTION)
    after = pipeline.ask(QUESTION)  # the server is gone now
    assert before.status == "answered" and not before.notice
    assert after.status == "answered" and after.notice and after.citations
