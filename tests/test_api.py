"""HTTP tests of the app: REST API, health check, OpenAPI schema, hardening, and the Gradio chat
endpoint over a real socket with ``gradio_client``. Fake models behind all of them.

The app is built once per module (building it mounts Gradio, which takes a moment).
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from app import _parser, create_app, settings_from_args
from rag.config import Settings
from rag.ingestion import build_index
from rag.pipeline import Pipeline
from tests.fakes import HashingEmbedder, ScriptedGenerator

ROOT = Path(__file__).resolve().parent.parent
REPLY = ("Ketamine has been shown to induce rapid and robust antidepressant effects within hours to days of "
         "administration [1]. Traditional antidepressants may take weeks to months to produce therapeutic effects [1].")
SECRET = "my-secret-symptom-text"
# Gradio's queue uses pandas options that pandas 4 deprecates; not ours to fix.
GRADIO_QUEUE_WARNINGS = [pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting'"),
                         pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]
pytestmark = GRADIO_QUEUE_WARNINGS


def build_env(tmp: Path):
    """Settings, store and embedder over a private copy of the corpus in ``tmp``."""
    shutil.copytree(ROOT / "corpus", tmp / "corpus")
    settings = Settings(corpus_dir=tmp / "corpus", index_dir=tmp / "index", cache_dir=tmp / "cache",
                        generator="extractive", rate_limit_per_minute=0, _env_file=None)
    embedder = HashingEmbedder()
    store, _ = build_index(settings.corpus_dir, settings.index_dir, embedder, settings.chunk_max_chars)
    return settings, store, embedder


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Built once for the module: mounting Gradio and building the index take a moment."""
    return build_env(tmp_path_factory.mktemp("api"))


def make_app(built, generator=None, pipeline_cls=Pipeline, **overrides):
    settings, store, embedder = built
    settings = settings.model_copy(update=overrides)
    return create_app(settings, pipeline_cls(settings, store, embedder, generator or ScriptedGenerator(REPLY)))


@pytest.fixture(scope="module")
def client(built):
    with TestClient(make_app(built), raise_server_exceptions=False) as c:
        yield c


@contextmanager
def serve(app):
    """Serve ``app`` for real on 127.0.0.1 and a free port, in a thread; yields the base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


def sse(text: str) -> list[tuple[str, object]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        out.append((lines["event"], json.loads(lines["data"])))
    return out


# --- POST /api/ask ------------------------------------------------------------------------------
def test_ask_returns_the_contract_shape(client):
    r = client.post("/api/ask", json={"question": "How quickly does ketamine work for depression?"})
    assert r.status_code == 200
    data = r.json()
    assert set(data) >= {"answer", "status", "citations", "timings_ms"}
    assert data["status"] == "answered" and "[1]" in data["answer"]
    c = data["citations"][0]
    assert set(c) == {"n", "doc_id", "title", "quote", "start", "end", "url"}
    assert c["end"] - c["start"] == len(c["quote"])
    assert c["url"].startswith("https://psychiatristdrakhildhanda.com/")


def test_ask_with_history(client):
    r = client.post("/api/ask", json={"question": "What experiences can it induce?", "history": [
        {"role": "user", "content": "Tell me about psilocybin assisted therapy"},
        {"role": "assistant", "content": "Psilocybin is in magic mushrooms."}]})
    assert r.status_code == 200 and r.json()["status"] == "answered"


@pytest.mark.parametrize("question,status", [
    ("How much does ketamine cost?", "not_found"),
    ("I want to end my life", "crisis"),
    ("What's the weather like today?", "declined"),
    ("Should I stop taking my sertraline?", "declined"),
])
def test_each_status_comes_through(client, question, status):
    data = client.post("/api/ask", json={"question": question}).json()
    assert data["status"] == status and data["citations"] == [] and data["answer"]


def test_sensitive_article_questions_carry_the_crisis_lines_notice(client):
    data = client.post("/api/ask", json={"question": "Does treatment-resistant depression raise suicide risk?"}).json()
    assert data["status"] == "answered" and "988" in data["notice"]


BAD = [
    (b"not json", 400),
    (b"[1, 2]", 400),
    (b'"just a string"', 400),
    (b"null", 400),
    (b"", 400),
    (b"\xff\xfe garbage", 400),
    (b"{" * 5000, 400),
    (b"{}", 422),
    (json.dumps({"question": ""}).encode(), 422),
    (json.dumps({"question": " \n\t "}).encode(), 422),
    (json.dumps({"question": "\u0000"}).encode(), 422),
    (json.dumps({"question": 12}).encode(), 422),
    (json.dumps({"question": None}).encode(), 422),
    (json.dumps({"question": ["a"]}).encode(), 422),
    (json.dumps({"question": {"text": "a"}}).encode(), 422),
    (json.dumps({"question": "ok?", "history": "nope"}).encode(), 422),
    (json.dumps({"question": "ok?", "history": [1]}).encode(), 422),
    (json.dumps({"question": "ok?", "history": [{"role": "system", "content": "x"}]}).encode(), 422),
    (json.dumps({"question": "ok?", "history": [{"role": "user", "content": 5}]}).encode(), 422),
    (json.dumps({"question": "ok?", "history": [{"role": "user"}]}).encode(), 422),
    (json.dumps({"question": "x" * 1001}).encode(), 413),
    (b"x" * 70000, 413),
]


@pytest.mark.parametrize("path", ["/api/ask", "/api/ask/stream"])
@pytest.mark.parametrize("body,status", BAD)
def test_bad_input_gets_a_4xx_with_an_error_message(client, path, body, status):
    r = client.post(path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == status
    assert isinstance(r.json()["error"], str) and r.json()["error"]


def test_lone_surrogates_are_not_a_server_error(client):
    body = b'{"question": "Is ketamine safe? \\ud800", "history": [{"role": "user", "content": "\\udfff"}]}'
    r = client.post("/api/ask", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200
    with client.stream("POST", "/api/ask/stream", content=body) as r:
        assert r.status_code == 200 and sse("".join(r.iter_text()))[-1][0] == "done"


def test_an_oversized_declared_length_is_refused_before_reading(client):
    r = client.post("/api/ask", content=b'{"question": "hi"}',
                    headers={"content-type": "application/json", "content-length": "10000000"})
    assert r.status_code == 413 and "too large" in r.json()["error"]


@pytest.mark.parametrize("method,path", [("GET", "/api/ask"), ("PUT", "/api/ask/stream"), ("POST", "/healthz")])
def test_wrong_methods_get_a_json_error(client, method, path):
    r = client.request(method, path)
    assert r.status_code == 405 and r.json()["error"]


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                    max_leaves=12)
BODIES = st.one_of(
    JSON,
    st.fixed_dictionaries({"question": JSON}),
    st.fixed_dictionaries({"question": st.text(max_size=60), "history": JSON}),
    st.fixed_dictionaries({"question": st.text(min_size=1, max_size=60), "history": st.lists(
        st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "bot"]), "content": JSON}), max_size=3)}),
)


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODIES)
def test_no_json_body_produces_a_server_error(client, body):
    r = client.post("/api/ask", content=json.dumps(body))  # NaN and Infinity included, as Python writes them
    assert r.status_code in (200, 400, 413, 422), r.text
    if r.status_code != 200:
        assert isinstance(r.json()["error"], str)


# --- POST /api/ask/stream -----------------------------------------------------------------------
def test_stream_sends_tokens_then_citations_then_done(client):
    with client.stream("POST", "/api/ask/stream", json={"question": "How quickly does ketamine work?"}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["cache-control"] == "no-store"
        events = sse("".join(r.iter_text()))
    kinds = [k for k, _ in events]
    assert kinds == ["token", "token", "citations", "done"]  # one event per checked sentence
    tokens = "".join(d for k, d in events if k == "token")
    done = events[-1][1]
    assert done["status"] == "answered" and done["answer"] == tokens
    assert events[-2][1] == done["citations"] and done["citations"][0]["n"] == 1


@pytest.mark.parametrize("question,status", [("How much does ketamine cost?", "not_found"),
                                             ("I want to end my life", "crisis")])
def test_stream_of_a_scripted_reply(client, question, status):
    with client.stream("POST", "/api/ask/stream", json={"question": question}) as r:
        events = sse("".join(r.iter_text()))
    assert [k for k, _ in events] == ["token", "citations", "done"]
    assert events[-1][1]["status"] == status and events[0][1] == events[-1][1]["answer"]


class Broken(Pipeline):
    """Streams one sentence, then fails with a message that quotes the patient."""

    def _stream(self, question, history):
        yield from ()
        from rag.pipeline import Event

        yield Event("token", "Partial sentence.")
        raise RuntimeError(f"failed on {question!r}")


@pytest.fixture(scope="module")
def broken_client(built):
    with TestClient(make_app(built, pipeline_cls=Broken), raise_server_exceptions=False) as c:
        yield c


def test_stream_ends_with_an_error_event_when_answering_fails(broken_client, caplog):
    with caplog.at_level(logging.INFO):
        with broken_client.stream("POST", "/api/ask/stream", json={"question": f"Is ketamine safe {SECRET}?"}) as r:
            events = sse("".join(r.iter_text()))
    assert [k for k, _ in events] == ["token", "error"]
    assert "something went wrong" in events[-1][1]["error"]
    assert "RuntimeError" in caplog.text and SECRET not in caplog.text


def test_ask_failure_is_a_friendly_503_and_the_log_keeps_the_message_out(broken_client, caplog):
    with caplog.at_level(logging.INFO):
        r = broken_client.post("/api/ask", json={"question": f"Is ketamine safe {SECRET}?"})
    assert r.status_code == 503 and "something went wrong" in r.json()["error"]
    assert "RuntimeError" in caplog.text and SECRET not in caplog.text


# --- health, docs, limits, hardening --------------------------------------------------------------
def test_healthz_reports_index_and_models(client):
    data = client.get("/healthz").json()
    assert data["status"] == "ok" and data["index"]["chunks"] > 10 and data["index"]["documents"] == 1
    assert data["models"] == {"embedder": "test/hashing-embedder", "generator": "test/scripted",
                              "generator_loaded": False, "generator_backend": "local"}


def test_openapi_documents_both_post_bodies(client):
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    for path in ("/api/ask", "/api/ask/stream"):
        op = spec["paths"][path]["post"]
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        assert op["requestBody"]["required"] is True and schema["required"] == ["question"]
        assert schema["properties"]["question"] == {**schema["properties"]["question"], "type": "string",
                                                    "minLength": 1, "maxLength": 1000}
        assert schema["properties"]["history"]["items"]["properties"]["role"]["enum"] == ["user", "assistant"]
        assert {"200", "400", "413", "422", "503"} <= set(op["responses"])
    ok = spec["paths"]["/api/ask"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["properties"]["status"]["enum"] == ["answered", "not_found", "crisis", "declined"]
    assert "text/event-stream" in spec["paths"]["/api/ask/stream"]["post"]["responses"]["200"]["content"]
    assert "/healthz" in spec["paths"]


def test_busy_server_says_so_instead_of_queueing_forever(built):
    app = make_app(built, concurrency=1, queue_size=0)
    with TestClient(app, raise_server_exceptions=False) as c, app.state.gate.slot():
        for path in ("/api/ask", "/api/ask/stream"):
            r = c.post(path, json={"question": "Is ketamine safe?"})
            assert r.status_code == 503 and r.headers["retry-after"] == "30" and "busy" in r.json()["error"]
    assert app.state.gate.inside == 0


def test_citation_links_fall_back_to_the_article_base_url(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(next((ROOT / "corpus").glob("*.txt")), corpus / "ketamine.txt")  # no .meta.json: no url
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", cache_dir=tmp_path / "cache",
                        generator="extractive", article_base_url="https://clinic.example/articles/", _env_file=None)
    embedder = HashingEmbedder()
    store, _ = build_index(corpus, settings.index_dir, embedder, settings.chunk_max_chars)
    with TestClient(create_app(settings, Pipeline(settings, store, embedder, None))) as c:
        data = c.post("/api/ask", json={"question": "How does ketamine act in the brain?"}).json()
        assert data["citations"][0]["url"] == "https://clinic.example/articles/ketamine"
        with c.stream("POST", "/api/ask/stream", json={"question": "How does ketamine act in the brain?"}) as r:
            events = dict(sse("".join(r.iter_text())))
        assert events["citations"][0]["url"] == events["done"]["citations"][0]["url"] == data["citations"][0]["url"]


def test_the_chat_page_is_served_without_extras(client):
    r = client.get("/")
    assert r.status_code == 200 and "<html" in r.text.lower()
    assert r.headers["x-content-type-options"] == "nosniff"
    config = client.get("/config").json()
    types = {c["type"] for c in config["components"]}
    assert "chatbot" in types and not types & {"file", "image", "audio", "video", "uploadbutton", "multimodaltextbox"}
    chatbot = next(c for c in config["components"] if c["type"] == "chatbot")
    assert chatbot["props"]["sanitize_html"] is True
    assert "share" not in (chatbot["props"].get("buttons") or [])
    assert client.post("/gradio_api/upload", files={"files": ("a.txt", b"x")}).status_code == 404
    assert client.get("/monitoring").status_code in (404, 405) or "monitoring" not in client.get("/monitoring").text
    info = client.get("/gradio_api/info").json()
    assert list(info["named_endpoints"]) == ["/chat"] and not info["unnamed_endpoints"]


def test_feedback_is_off_by_default_and_the_page_says_so(client):
    assert "feedback is not stored" in client.get("/config").text


def test_cli_flags_become_settings(tmp_path):
    args = _parser().parse_args(["--generator", "extractive", "--top-k", "6", "--max-question-chars", "300",
                                 "--clinic-name", "Clinic X", "--contact", "+1 555 0100",
                                 "--crisis-lines", "- Call 112\\n- Call 988",
                                 "--article-base-url", "https://x.example/a", "--feedback-file",
                                 str(tmp_path / "fb.json"), "--queue-size", "5", "--concurrency", "1",
                                 "--first-sentence-budget", "1.5"])
    s = settings_from_args(args)
    assert s.first_sentence_budget_s == 1.5
    assert (s.generator, s.top_k, s.max_question_chars, s.clinic_name, s.contact) == \
        ("extractive", 6, 300, "Clinic X", "+1 555 0100")
    assert s.crisis_lines == "- Call 112\n- Call 988" and s.article_base_url == "https://x.example/a"
    assert (s.feedback_file, s.queue_size, s.concurrency) == (tmp_path / "fb.json", 5, 1)
    assert (s.log_content, s.monitoring, s.mcp_server) == (False, False, False)
    defaults = _parser().parse_args([])
    assert defaults.host == "127.0.0.1"
    with pytest.raises(ValueError):  # a negative budget is refused at start, not at the first question
        settings_from_args(_parser().parse_args(["--first-sentence-budget", "-1"]))


# --- the Gradio chat endpoint, over a real socket -----------------------------------------------
def test_gradio_client_can_use_the_chat_endpoint(built):
    from gradio_client import Client

    with serve(make_app(built)) as url:
        client = Client(url, verbose=False)
        reply = client.predict("How quickly does ketamine work for depression?", api_name="/chat")
        assert reply.startswith("Ketamine has been shown to induce rapid") and "\n\nSources:\n[1] " in reply
        follow_up = client.predict("How is it given?", [
            {"role": "user", "content": "Tell me about ketamine for depression"},
            {"role": "assistant", "content": "Ketamine is a dissociative anesthetic [1]."}], api_name="/chat")
        assert isinstance(follow_up, str) and follow_up
        assert "The clinic's articles don't cover this" in client.predict("How much does ketamine cost?",
                                                                          api_name="/chat")
        with pytest.raises(Exception, match="question is empty"):
            client.predict("   ", api_name="/chat")
