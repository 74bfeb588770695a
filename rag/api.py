"""REST API on the app's server: ``POST /api/ask``, ``POST /api/ask/stream`` and ``GET /healthz``.

Bad input gets a 4xx with ``{"error": "..."}``; nothing a patient sends produces a 500 or a
stack trace. Message text is never logged unless the clinic turns content logging on.

The two POST routes read the raw body themselves (so every malformed body gets the same
friendly 4xx instead of FastAPI's validation format), and declare the body they expect in the
OpenAPI schema through ``openapi_extra``, so /docs and schema-driven fuzzers see it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from .chat_ui import BUSY, FRIENDLY_ERROR, article_url, log_failure
from .errors import InputError
from .pipeline import Pipeline, validate
from .streaming import ClosingStreamingResponse, ThreadedStream

log = logging.getLogger("rag.api")
MAX_BODY_BYTES = 64 * 1024
RETRY_AFTER_S = "30"
FRIENDLY = FRIENDLY_ERROR


class Busy(Exception):
    """No answer slot came free within the queue timeout."""


class Gate:
    """At most ``concurrency`` answers at once across the chat and the API (one model, on the
    CPU), and at most ``queue_size`` more waiting; past that, callers are told to retry. The API
    also tells a caller to retry once it has waited ``queue_timeout_s`` for a slot, and tells it
    at once when the answers ahead of it (at their recent pace) would take longer than that:
    a queue of slow answers refuses politely and quickly instead of holding clients."""

    PACE_WEIGHT = 0.2  # of the latest answer in the running mean of answer times

    def __init__(self, concurrency: int, queue_size: int, queue_timeout_s: float | None = None):
        self.concurrency = max(1, concurrency)
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self._lock = threading.Lock()
        self.inside = 0
        self.capacity = self.concurrency + max(0, queue_size)
        self.queue_timeout_s = queue_timeout_s
        self.mean_answer_s = 0.0  # unknown until the first answer: admit

    def expected_wait_s(self) -> float:
        """Roughly how long a newcomer would wait for a slot, at the recent pace."""
        ahead = self.inside + 1 - self.concurrency
        return max(0, ahead) / self.concurrency * self.mean_answer_s

    def busy(self) -> bool:
        if self.inside >= self.capacity:
            return True
        return self.queue_timeout_s is not None and self.expected_wait_s() > self.queue_timeout_s

    @contextmanager
    def slot(self, timeout: float | None = None):
        """Hold an answer slot; raise Busy when none comes free within ``timeout`` (None: wait)."""
        with self._lock:
            self.inside += 1
        try:
            if not self._slots.acquire(timeout=timeout):
                raise Busy(f"no answer slot came free within {timeout:g} s")
            started = time.monotonic()
            try:
                yield
            finally:
                self._slots.release()
                self._record(time.monotonic() - started)
        finally:
            with self._lock:
                self.inside -= 1

    def _record(self, seconds: float) -> None:
        with self._lock:
            first = self.mean_answer_s == 0.0
            self.mean_answer_s = seconds if first else \
                (1 - self.PACE_WEIGHT) * self.mean_answer_s + self.PACE_WEIGHT * seconds


# --- the documented shapes (for /docs and schema-driven tools) -------------------------------
def _request_schema(max_chars: int) -> dict:
    return {
        "type": "object",
        "required": ["question"],
        "properties": {
            "question": {"type": "string", "minLength": 1, "maxLength": max_chars,
                         "pattern": "[^\\s\\u0000-\\u001f\\u007f-\\u009f]",
                         "description": "the patient's question (more than spaces and control characters)",
                         "example": "How quickly does ketamine work for depression?"},
            "history": {"type": ["array", "null"], "description": "earlier turns, oldest first (optional; null "
                                                                     "is the same as none)",
                        "items": {"type": "object", "required": ["role", "content"],
                                  "properties": {"role": {"type": "string", "enum": ["user", "assistant"]},
                                                 "content": {"type": "string"}}}},
        },
    }


_CITATION = {"type": "object", "required": ["n", "doc_id", "title", "quote", "start", "end", "url"],
             "properties": {"n": {"type": "integer"}, "doc_id": {"type": "string"}, "title": {"type": "string"},
                            "quote": {"type": "string", "description": "verbatim text of the document at [start, end)"},
                            "start": {"type": "integer"}, "end": {"type": "integer"},
                            "url": {"type": ["string", "null"]}}}
_ANSWER = {"type": "object", "required": ["answer", "status", "citations", "timings_ms"],
           "properties": {"answer": {"type": "string", "description": "carries [n] citation markers"},
                          "status": {"type": "string", "enum": ["answered", "not_found", "crisis", "declined"]},
                          "citations": {"type": "array", "items": _CITATION},
                          "timings_ms": {"type": "object", "additionalProperties": {"type": "number"}},
                          "notice": {"type": "string", "description": "crisis lines or a fallback note, if any"},
                          "mode": {"type": "string", "enum": ["generated", "quoted"],
                                   "description": "on answered: the model's own checked sentences, or the "
                                                  "article's sentences quoted"},
                          "reason": {"type": "string", "description": "on not_found: why the articles do not "
                                                                      "answer it, e.g. no passage states a price"}}}
# One Server-Sent Event of a streamed answer; ``data`` is JSON text.
_SSE_EVENT = {"type": "object", "required": ["event", "data"],
              "properties": {"event": {"type": "string", "enum": ["token", "citations", "done", "error"]},
                             "data": {"type": "string", "description": "JSON: a string, a list, an answer or "
                                                                       "{\"error\"}"}}}
_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {
    "400": _json(_ERROR, "the body is not a JSON object"),
    "413": _json(_ERROR, "the body or the question is too long"),
    "422": _json(_ERROR, "a field is missing, empty or of the wrong type"),
    "503": _json(_ERROR, "the assistant is busy or failed; try again"),
}


def _openapi(max_chars: int, ok: dict) -> dict:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": _request_schema(max_chars)}}},
            "responses": {"200": ok, **_ERRORS}}


# --- reading a request ----------------------------------------------------------------------
def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _clean(text: str) -> str:
    """Lone surrogates (valid in JSON escapes, not in UTF-8) would fail later, mid-answer."""
    return text.encode("utf-8", "replace").decode("utf-8") if isinstance(text, str) else text


async def _read_body(request: Request) -> bytes | None:
    """The body, or None when it exceeds MAX_BODY_BYTES (read no further than that)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return None
    return bytes(body)


async def _read_request(request: Request, pipeline: Pipeline) -> tuple[str, list] | JSONResponse:
    body = await _read_body(request)
    if body is None:
        return _error(413, f"request body too large; the limit is {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(body or b"null")
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return _error(400, 'body must be JSON like {"question": "..."}')
    if not isinstance(data, dict):
        return _error(400, 'body must be a JSON object like {"question": "..."}')
    settings = pipeline.settings
    history = data.get("history")
    if isinstance(history, list):
        history = [{**t, "content": _clean(t.get("content"))} if isinstance(t, dict) else t for t in history]
    try:
        question, history = validate(_clean(data.get("question")), history,
                                     settings.max_question_chars, settings.max_history_turns)
    except InputError as exc:
        status = 413 if "too long" in str(exc) else 422
        return _error(status, str(exc))
    return question, history


def _with_urls(data: dict, base_url: str | None) -> dict:
    for c in data.get("citations", []):
        c["url"] = article_url(c["doc_id"], c.get("url"), base_url)
    return data


def make_router(get_pipeline, *, gate: Gate | None = None, max_question_chars: int = 1000) -> APIRouter:
    """Routes bound to a pipeline getter (the pipeline may still be loading at import time)."""
    router = APIRouter()
    ok_json = _json(_ANSWER, "the answer with its citations")
    ok_sse = {"description": "Server-Sent Events: `token` (JSON string, the next checked sentence), `citations` "
                             "(JSON list), `done` (the full answer object), or `error` ({\"error\"})",
              "content": {"text/event-stream": {"schema": _SSE_EVENT}}}

    def busy() -> JSONResponse | None:
        if gate is not None and gate.busy():
            return refuse()
        return None

    def refuse() -> JSONResponse:
        return _error(503, BUSY, {"Retry-After": RETRY_AFTER_S})

    def held_slot():
        return gate.slot(gate.queue_timeout_s) if gate is not None else _no_gate()

    @router.post("/api/ask", summary="Answer one question with citations", tags=["answers"],
                 openapi_extra=_openapi(max_question_chars, ok_json))
    async def ask(request: Request):
        pipeline = get_pipeline()
        parsed = await _read_request(request, pipeline)
        if isinstance(parsed, JSONResponse):
            return parsed
        if (refused := busy()) is not None:
            return refused
        question, history = parsed

        def answer():
            with held_slot():
                return pipeline.ask(question, history)

        try:
            result = await run_in_threadpool(answer)
        except Busy:
            return refuse()
        except Exception as exc:
            log_failure(log, "answering", exc, pipeline.settings.log_content)
            return _error(503, FRIENDLY)
        return JSONResponse(_with_urls(result.to_dict(), pipeline.settings.article_base_url))

    @router.post("/api/ask/stream", summary="Answer as Server-Sent Events: token, citations, done, error",
                 tags=["answers"], openapi_extra=_openapi(max_question_chars, ok_sse))
    async def ask_stream(request: Request):
        pipeline = get_pipeline()
        parsed = await _read_request(request, pipeline)
        if isinstance(parsed, JSONResponse):
            return parsed
        if (refused := busy()) is not None:
            return refused
        question, history = parsed
        base_url = pipeline.settings.article_base_url
        # The slot is taken before the response starts, so a caller who waited too long still
        # gets a 503 rather than a stream that has already said 200; the stream gives it back.
        slot = held_slot()
        try:
            await run_in_threadpool(slot.__enter__)
        except Busy:
            return refuse()

        def events() -> Iterator[str]:
            try:
                with closing(pipeline.stream(question, history)) as answer:
                    for event in answer:
                        if event.kind == "done":
                            data = _with_urls(event.data.to_dict(), base_url)
                        elif event.kind == "citations":
                            data = [{**c, "url": article_url(c["doc_id"], c.get("url"), base_url)}
                                    for c in event.data]
                        else:
                            data = event.data
                        yield f"event: {event.kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
            except Exception as exc:
                log_failure(log, "streaming", exc, pipeline.settings.log_content)
                yield f"event: error\ndata: {json.dumps({'error': FRIENDLY})}\n\n"

        return ClosingStreamingResponse(ThreadedStream(events(), on_close=lambda: slot.__exit__(None, None, None)),
                                        media_type="text/event-stream",
                                        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @router.get("/healthz", summary="Index and model status", tags=["status"])
    async def healthz():
        pipeline = get_pipeline()
        store, generator = pipeline.store, pipeline.generator
        models = {"embedder": pipeline.embedder.model_id,
                  "generator": getattr(generator, "model_id", "extractive"),
                  "generator_loaded": bool(getattr(generator, "loaded", generator is None)),
                  "generator_backend": _backend_name(generator)}
        reachable = getattr(generator, "reachable", None)
        if callable(reachable):
            # A short, cached probe in a worker thread; "ok" either way, because answers
            # still come (quoted from the articles) while the inference server is away.
            models["generator_reachable"] = await run_in_threadpool(reachable)
        return {
            "status": "ok",
            "index": {"documents": len(store.documents), "chunks": len(store.chunks),
                      "build": store.manifest.get("build"), "index_type": store.manifest.get("index_type")},
            "models": models,
        }

    return router


def _backend_name(generator) -> str:
    if generator is None:
        return "extractive"
    return "openai-compatible server" if callable(getattr(generator, "reachable", None)) else "local"


@contextmanager
def _no_gate():
    yield


def install_error_handlers(app: FastAPI) -> None:
    """Whatever escapes a route becomes a friendly JSON error, with details only in the log."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else "request not accepted"
        return _error(exc.status_code, message, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log_failure(log, f"request to {request.url.path}", exc)
        return _error(500, FRIENDLY)
