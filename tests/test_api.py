"""HTTP tests of the app's REST API and health check, with fake models behind them."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from app import create_app
from rag.pipeline import Pipeline
from tests.fakes import ScriptedGenerator


@pytest.fixture
def client(settings, store, embedder):
    gen = ScriptedGenerator("Ketamine can induce rapid antidepressant effects within hours to days [1].")
    app = create_app(settings, Pipeline(settings, store, embedder, gen))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_ask_returns_the_contract_shape(client):
    r = client.post("/api/ask", json={"question": "How quickly does ketamine work for depression?"})
    assert r.status_code == 200
    data = r.json()
    assert set(data) >= {"answer", "status", "citations", "timings_ms"}
    assert data["status"] == "answered" and "[1]" in data["answer"]
    c = data["citations"][0]
    assert set(c) == {"n", "doc_id", "title", "quote", "start", "end", "url"}
    assert c["end"] - c["start"] == len(c["quote"])


def test_ask_with_history(client):
    r = client.post("/api/ask", json={"question": "What experiences can it induce?", "history": [
        {"role": "user", "content": "Tell me about psilocybin assisted therapy"},
        {"role": "assistant", "content": "Psilocybin is in magic mushrooms."}]})
    assert r.status_code == 200 and r.json()["status"] == "answered"


@pytest.mark.parametrize("body,status", [
    (b"not json", 400),
    (b"[1, 2]", 400),
    (b"{}", 422),
    (json.dumps({"question": ""}).encode(), 422),
    (json.dumps({"question": 12}).encode(), 422),
    (json.dumps({"question": "ok?", "history": "nope"}).encode(), 422),
    (json.dumps({"question": "x" * 1001}).encode(), 413),
    (b"{" * 5000, 400),
    (b"x" * 70000, 413),
])
def test_bad_input_gets_a_4xx_with_an_error_message(client, body, status):
    r = client.post("/api/ask", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status
    assert isinstance(r.json()["error"], str) and r.json()["error"]


def test_stream_sends_token_citations_done(client):
    with client.stream("POST", "/api/ask/stream", json={"question": "How quickly does ketamine work?"}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        text = "".join(r.iter_text())
    events = [block.split("\n")[0].removeprefix("event: ") for block in text.strip().split("\n\n")]
    assert events[0] == "token" and events[-2:] == ["citations", "done"]
    done = json.loads(text.strip().split("\n\n")[-1].split("data: ", 1)[1])
    assert done["status"] == "answered"


def test_stream_rejects_bad_input_before_streaming(client):
    r = client.post("/api/ask/stream", json={"question": "  "})
    assert r.status_code == 422 and "empty" in r.json()["error"]


def test_healthz_reports_index_and_models(client):
    data = client.get("/healthz").json()
    assert data["status"] == "ok" and data["index"]["chunks"] > 10
    assert data["models"]["generator"] == "test/scripted"


def test_the_chat_page_is_served(client):
    r = client.get("/")
    assert r.status_code == 200 and "<html" in r.text.lower()
