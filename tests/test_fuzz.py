"""Hostile input: schemathesis drives the REST API from its own OpenAPI schema (valid and invalid
bodies), and Hypothesis feeds arbitrary text (control characters, null bytes, very long single
words, any script) to the parts that read it. No 500s, no crash, bounded time per request."""

from __future__ import annotations

import json
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from schemathesis.checks import negative_data_rejection
from schemathesis.core import NOT_SET

from rag.errors import InputError
from rag.grounding import ground, split_answer
from rag.pipeline import Pipeline, validate
from rag.safety import assess
from tests.test_api import GRADIO_QUEUE_WARNINGS, REPLY, build_env, make_app

pytestmark = GRADIO_QUEUE_WARNINGS
SECONDS_PER_REQUEST = 5.0  # generous: the machine running CI may be busy
UNICODE = st.text(alphabet=st.characters(codec="utf-8"), max_size=300)  # any code point, controls and NUL too
LONG_WORDS = st.builds(lambda part, n: part * n, st.text(min_size=1, max_size=8), st.integers(100, 1000))
TEXT = st.one_of(UNICODE, LONG_WORDS, st.text(alphabet="<>&\"'/\\`$\x00\x1b\u202e\u200b[]()1. ", max_size=400))


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return make_app(build_env(tmp_path_factory.mktemp("fuzz")))


@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_asgi("/openapi.json", app)


POSITIVE, NEGATIVE = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE


@pytest.mark.parametrize("path,method,mode", [
    ("/api/ask", "POST", POSITIVE), ("/api/ask", "POST", NEGATIVE),
    ("/api/ask/stream", "POST", POSITIVE), ("/api/ask/stream", "POST", NEGATIVE),
    ("/healthz", "GET", POSITIVE),  # it takes no input, so there is nothing invalid to send
], ids=str)
def test_the_api_holds_to_its_schema_for_generated_requests(api_schema, path, method, mode):
    operation = api_schema[path][method]

    @hsettings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def holds(case):
        started = time.monotonic()
        response = case.call()
        took = time.monotonic() - started
        assert response.status_code < 500, response.text
        assert took < SECONDS_PER_REQUEST, (took, case.body)
        # Its own rejection check does not know 413, which this API documents for too-long questions.
        case.validate_response(response, excluded_checks=[negative_data_rejection])
        if mode is NEGATIVE and case.body is not NOT_SET:
            assert response.status_code in (400, 413, 422), (response.status_code, case.body)
        if response.status_code >= 400:
            assert isinstance(response.json()["error"], str)

    holds()


# --- raw bodies the schema does not describe ------------------------------------------------------
@pytest.fixture(scope="module")
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize("body,status", [
    (b"[" * 50_000 + b"]" * 50_000, 413),  # deep JSON past the size limit
    (b"[" * 20_000 + b"]" * 20_000, 400),  # deep JSON within it: nesting, not a question
    (json.dumps({"question": {"a": [[[[[[[[[[1]]]]]]]]]]}}).encode(), 422),
    (json.dumps({"question": "x" * 60_000}).encode(), 413),
    (json.dumps({"question": "ketamine" * 200}).encode(), 413),  # one very long word, too long
    (b'{"question": "\x00\x00\x00"}', 400),  # raw control characters are not valid JSON
    (json.dumps({"question": "\u0000\u0000"}).encode(), 422),  # escaped NULs only: an empty question
    (b"\xff\xfe\x00q", 400),
    (json.dumps({"question": "Is it safe?", "history": [{"role": "user", "content": "x"}] * 3000}).encode(), 413),
])
def test_hostile_bodies_get_a_clear_4xx_quickly(client, body, status):
    for path in ("/api/ask", "/api/ask/stream"):
        started = time.monotonic()
        r = client.post(path, content=body, headers={"content-type": "application/json"})
        assert time.monotonic() - started < SECONDS_PER_REQUEST
        assert r.status_code == status, r.text
        assert isinstance(r.json()["error"], str) and "Traceback" not in r.text


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(question=TEXT)
def test_any_question_text_gets_an_answer_or_a_clear_4xx(client, question):
    started = time.monotonic()
    r = client.post("/api/ask", json={"question": question})
    assert time.monotonic() - started < SECONDS_PER_REQUEST
    assert r.status_code in (200, 413, 422), r.text
    data = r.json()
    if r.status_code == 200:
        assert data["status"] in ("answered", "not_found", "crisis", "declined") and data["answer"]
    else:
        assert data["error"]


# --- the parts that read patient text ------------------------------------------------------------
@hsettings(max_examples=150, deadline=None)
@given(text=TEXT)
def test_validate_returns_usable_text_or_an_input_error(text):
    try:
        question, history = validate(text, [{"role": "user", "content": text}], 1000, 6)
    except InputError as exc:
        assert str(exc)
        return
    assert question and question == question.strip() and len(question) <= 1000 and "\x00" not in question
    assert history == [{"role": "user", "content": text[:4000]}]


@hsettings(max_examples=150, deadline=None)
@given(text=TEXT, history_text=UNICODE)
def test_the_safety_gate_decides_any_text_quickly(text, history_text):
    started = time.monotonic()
    verdict = assess(text[:1000], [{"role": "user", "content": history_text}])
    assert time.monotonic() - started < 2.0
    assert verdict.action in ("allow", "crisis", "decline")


@hsettings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reply=TEXT)
def test_grounding_any_model_text_keeps_only_verbatim_supported_quotes(store, reply):
    sources = store.chunks[:4]
    started = time.monotonic()
    split_answer(reply)
    grounded = ground(reply, sources)
    assert time.monotonic() - started < 2.0
    for claim in grounded.claims:
        source = sources[claim.source]
        start, end = claim.span
        assert store.documents[source.doc_id].text[start:end].strip()


@hsettings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(question=TEXT, reply=TEXT)
def test_the_pipeline_answers_any_text_from_any_model_reply(settings, store, embedder, question, reply):
    from tests.fakes import ScriptedGenerator

    pipeline = Pipeline(settings, store, embedder, ScriptedGenerator(reply + " " + REPLY))
    try:
        answer = pipeline.ask(question)
    except InputError:
        return
    assert answer.status in ("answered", "not_found", "crisis", "declined")
    for c in answer.citations:
        assert store.documents[c.doc_id].text[c.start : c.end] == c.quote
