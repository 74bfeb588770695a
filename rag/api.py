"""REST API on the app's server: ``POST /api/ask``, ``POST /api/ask/stream`` and ``GET /healthz``.

Bad input gets a 4xx with ``{"error": "..."}``; nothing a patient sends produces a 500 or a
stack trace. Message text is never logged unless the clinic turns content logging on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from .errors import InputError
from .pipeline import Pipeline

log = logging.getLogger("rag.api")
MAX_BODY_BYTES = 64 * 1024
FRIENDLY = "Sorry, something went wrong on our side. Please try again, or contact the clinic."


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _read_request(request: Request, pipeline: Pipeline) -> tuple[str, list] | JSONResponse:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return _error(413, f"request body too large; the limit is {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return _error(400, 'body must be JSON like {"question": "..."}')
    if not isinstance(data, dict):
        return _error(400, 'body must be a JSON object like {"question": "..."}')
    settings = pipeline.settings
    try:
        from .pipeline import validate

        question, history = validate(data.get("question"), data.get("history"),
                                     settings.max_question_chars, settings.max_history_turns)
    except InputError as exc:
        status = 413 if "too long" in str(exc) else 422
        return _error(status, str(exc))
    return question, history


def make_router(get_pipeline) -> APIRouter:
    """Routes bound to a pipeline getter (the pipeline may still be loading at import time)."""
    router = APIRouter()

    @router.post("/api/ask", summary="Answer one question with citations")
    async def ask(request: Request):
        pipeline = get_pipeline()
        parsed = await _read_request(request, pipeline)
        if isinstance(parsed, JSONResponse):
            return parsed
        question, history = parsed
        try:
            answer = await run_in_threadpool(pipeline.ask, question, history)
        except Exception:
            log.exception("answering failed")
            return _error(503, FRIENDLY)
        return JSONResponse(answer.to_dict())

    @router.post("/api/ask/stream", summary="Answer as Server-Sent Events: token, citations, done, error")
    async def ask_stream(request: Request):
        pipeline = get_pipeline()
        parsed = await _read_request(request, pipeline)
        if isinstance(parsed, JSONResponse):
            return parsed
        question, history = parsed

        def events() -> Iterator[str]:
            try:
                for event in pipeline.stream(question, history):
                    data = event.data.to_dict() if event.kind == "done" else event.data
                    yield f"event: {event.kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
            except Exception:
                log.exception("streaming failed")
                yield f"event: error\ndata: {json.dumps({'error': FRIENDLY})}\n\n"

        return StreamingResponse(iterate_in_threadpool(events()), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @router.get("/healthz", summary="Index and model status")
    async def healthz():
        pipeline = get_pipeline()
        store, generator = pipeline.store, pipeline.generator
        return {
            "status": "ok",
            "index": {"documents": len(store.documents), "chunks": len(store.chunks),
                      "build": store.manifest.get("build"), "index_type": store.manifest.get("index_type")},
            "models": {"embedder": pipeline.embedder.model_id,
                       "generator": getattr(generator, "model_id", "extractive"),
                       "generator_loaded": bool(getattr(generator, "loaded", generator is None))},
        }

    return router


def install_error_handlers(app: FastAPI) -> None:
    """Whatever escapes a route becomes a friendly JSON error, with details only in the log."""

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.error("unhandled %s on %s", type(exc).__name__, request.url.path)
        return _error(500, FRIENDLY)
