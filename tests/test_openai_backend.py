"""The OpenAI-compatible backend against a scripted server on a real loopback socket:
streaming, timeouts, retries, hang-ups, and the patient-facing fallback when the server is away."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from rag.errors import GenerationError
from rag.generation import make_generator
from rag.openai_backend import OpenAIGenerator, chat_completions_url, parse_sse
from rag.pipeline import Pipeline
from tests.fake_openai_server import FakeOpenAIServer, Script, free_port

QUESTION = "How quickly does ketamine work for depression?"
SUPPORTED = "Ketamine can induce rapid antidepressant effects within hours to days [1]."
MESSAGES = [{"role": "user", "content": "hi"}]


def client(url: str, **kw) -> OpenAIGenerator:
    options = {"connect_timeout_s": 1.0, "read_timeout_s": 1.0, "total_timeout_s": 10.0, "retries": 1,
               "retry_backoff_s": 0.01}
    return OpenAIGenerator(url, **{**options, **kw})


def test_streams_the_reply_piece_by_piece_with_greedy_settings():
    reply = "Ketamine acts on NMDA receptors in the brain."
    with FakeOpenAIServer(Script(reply=reply)) as server:
        gen = client(server.url, api_key="k-123", max_new_tokens=40)
        pieces = list(gen.stream(MESSAGES))
    assert len(pieces) == len(reply.split(" "))  # arrived as separate events, not one blob
    assert "".join(pieces).strip() == reply
    sent = server.record.requests[0]
    assert sent["stream"] is True and sent["temperature"] == 0.0 and sent["max_tokens"] == 40
    assert sent["messages"] == MESSAGES
    assert sent["model"] == "fake-model"  # not configured: the first model the server lists
    assert server.record.headers[0]["Authorization"] == "Bearer k-123"


def test_a_configured_model_name_is_sent_as_is():
    with FakeOpenAIServer() as server:
        list(client(server.url, model="smollm2:135m").stream(MESSAGES))
    assert server.record.requests[0]["model"] == "smollm2:135m"


@pytest.mark.parametrize("base, expected", [
    ("http://h:8000", "http://h:8000/v1/chat/completions"),
    ("http://h:8000/v1/", "http://h:8000/v1/chat/completions"),
    ("http://h:8000/v1/chat/completions", "http://h:8000/v1/chat/completions"),
])
def test_any_usual_form_of_the_server_url_works(base, expected):
    assert chat_completions_url(base) == expected


def test_sse_parsing_skips_noise_and_stops_at_done():
    lines = [": ping", "", "event: message", 'data: {"choices": [{"delta": {"role": "assistant"}}]}',
             'data: {"choices": [{"delta": {"content": "A"}}]}', "data: [DONE]",
             'data: {"choices": [{"delta": {"content": "never"}}]}']
    assert list(parse_sse(iter(lines))) == ["A"]
    with pytest.raises(GenerationError, match=r"reported an error \(server_error\)$"):
        list(parse_sse(iter(['data: {"error": {"message": "cannot answer: <patient text>", "type": "server_error"}}'])))
    with pytest.raises(GenerationError, match="malformed"):
        list(parse_sse(iter(["data: {not json"])))


def test_a_slow_first_byte_times_out_after_one_bounded_retry():
    with FakeOpenAIServer(Script(first_byte_delay_s=3.0)) as server:
        gen = client(server.url, read_timeout_s=0.3, retries=1)
        t0 = time.monotonic()
        with pytest.raises(GenerationError, match="stopped answering in time"):
            list(gen.stream(MESSAGES))
        elapsed = time.monotonic() - t0
    assert len(server.record.requests) == 2  # the first try and exactly one retry
    assert elapsed < 2.0  # two read timeouts, not the server's 3 s delay


def test_a_server_error_then_success_is_retried_once():
    with FakeOpenAIServer(Script(reply="Fine now.", statuses=[500])) as server:
        pieces = list(client(server.url, retries=1).stream(MESSAGES))
    assert "".join(pieces).strip() == "Fine now."
    assert len(server.record.requests) == 2


def test_retries_are_bounded():
    with FakeOpenAIServer(Script(statuses=[503, 503, 503, 503])) as server:
        with pytest.raises(GenerationError, match=r"HTTP 503 \(invalid_request_error\)$"):
            list(client(server.url, retries=2).stream(MESSAGES))
    assert len(server.record.requests) == 3


def test_a_client_error_is_not_retried_and_its_message_is_not_repeated():
    """Error messages can quote the prompt; the error (which goes to the log) names only the kind."""
    secret = [{"role": "user", "content": "my-private-symptom-text"}]
    with FakeOpenAIServer(Script(statuses=[400])) as server:
        with pytest.raises(GenerationError, match="HTTP 400") as failure:
            list(client(server.url, retries=3).stream(secret))
    assert len(server.record.requests) == 1
    assert "invalid_request_error" in str(failure.value)
    assert "my-private-symptom-text" not in str(failure.value)


def test_no_retry_after_text_was_shown():
    """Text already given to the patient cannot be taken back, so a broken stream is not restarted."""
    with FakeOpenAIServer(Script(reply="one two three four five", drop_after_pieces=2)) as server:
        got = []
        with pytest.raises(GenerationError):
            for piece in client(server.url, retries=3).stream(MESSAGES):
                got.append(piece)
    assert "".join(got) == "one two "
    assert len(server.record.requests) == 1


def test_closing_the_stream_hangs_up_on_the_server():
    words = " ".join(f"w{i}" for i in range(200))
    with FakeOpenAIServer(Script(reply=words, piece_delay_s=0.02)) as server:
        stream = client(server.url).stream(MESSAGES)
        assert next(stream) and next(stream)
        stream.close()
        assert server.record.client_gone.wait(3.0), "the server kept streaming to nobody"
        assert server.record.pieces_sent < 200


def test_server_down_fails_fast_with_a_clear_error():
    gen = client(f"http://127.0.0.1:{free_port()}", retries=1)
    t0 = time.monotonic()
    with pytest.raises(GenerationError, match="cannot reach the inference server"):
        list(gen.stream(MESSAGES))
    assert time.monotonic() - t0 < 2.0
    assert gen.reachable() is False


def test_a_url_without_a_scheme_is_refused_clearly():
    with pytest.raises(GenerationError, match="must start with http"):
        OpenAIGenerator("localhost:8080")


def test_settings_with_a_server_url_select_this_backend(settings):
    with FakeOpenAIServer() as server:
        gen = make_generator(settings.model_copy(update={"generator": "smollm2", "generator_url": server.url,
                                                         "generator_model": "m", "generator_retries": 0}))
        assert isinstance(gen, OpenAIGenerator) and gen.model == "m" and gen.retries == 0
        assert gen.reachable() is True
    assert make_generator(settings.model_copy(update={"generator_url": server.url})) is None  # extractive wins


# --- through the whole pipeline and the REST API ---------------------------------------------
def test_answers_are_generated_on_the_server_and_grounded(settings, store, embedder):
    with FakeOpenAIServer(Script(reply=SUPPORTED, piece_words=3)) as server:
        answer = Pipeline(settings, store, embedder, client(server.url)).ask(QUESTION)
    assert answer.status == "answered" and not answer.notice
    assert answer.answer == SUPPORTED
    assert "[1]" in server.record.requests[0]["messages"][-1]["content"]  # the numbered sources went along


def test_server_down_gives_the_quoted_answer_with_a_notice_through_the_api(settings, store, embedder):
    from app import create_app

    gen = client(f"http://127.0.0.1:{free_port()}", retries=1)
    app = create_app(settings, Pipeline(settings, store, embedder, gen))
    with TestClient(app) as http:
        response = http.post("/api/ask", json={"question": QUESTION})
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "answered" and body["notice"] and body["citations"]
        doc = store.documents[body["citations"][0]["doc_id"]]
        c = body["citations"][0]
        assert doc.text[c["start"] : c["end"]] == c["quote"]

        streamed = http.post("/api/ask/stream", json={"question": QUESTION}).text
        assert "event: done" in streamed and "event: error" not in streamed

        health = http.get("/healthz").json()
        assert health["status"] == "ok"
        assert health["models"]["generator_backend"] == "openai-compatible server"
        assert health["models"]["generator_reachable"] is False


def test_a_busy_server_counts_as_reachable_and_a_down_one_does_not():
    with FakeOpenAIServer(Script(first_byte_delay_s=0.0)) as server:
        gen = client(server.url)
        original = server._httpd.RequestHandlerClass.do_GET

        def slow_get(handler):
            time.sleep(5.0)
            original(handler)

        server._httpd.RequestHandlerClass.do_GET = slow_get
        t0 = time.monotonic()
        assert gen.reachable() is True
        assert time.monotonic() - t0 < 4.0  # the probe does not wait for the busy server
        assert gen.reachable() is True  # cached: answered at once
    assert client(f"http://127.0.0.1:{free_port()}").reachable() is False


def test_command_line_flags_choose_the_server(monkeypatch):
    from app import _parser, settings_from_args

    monkeypatch.setenv("CLINIC_GENERATOR_API_KEY", "from-env")
    s = settings_from_args(_parser().parse_args(["--generator-url", "http://10.0.0.5:8000/v1",
                                                 "--generator-model", "smollm2:135m"]))
    assert (s.generator_url, s.generator_model, s.generator_api_key) == ("http://10.0.0.5:8000/v1", "smollm2:135m",
                                                                         "from-env")
    gen = OpenAIGenerator.from_settings(s)
    assert gen.endpoint == "http://10.0.0.5:8000/v1/chat/completions" and gen.retries == s.generator_retries


def test_warming_up_learns_the_model_and_never_fails(caplog):
    with FakeOpenAIServer(Script(models=["served-name"])) as server:
        gen = client(server.url)
        gen.load()
        assert gen.model == "served-name"
    down = client(f"http://127.0.0.1:{free_port()}")
    down.load()  # the app still starts
    assert "does not answer" in caplog.text
