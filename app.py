"""Start the clinic assistant: Gradio chat at /, REST API at /api, health at /healthz, docs at /docs,
the website widget at /widget.js.

    python app.py [--host 127.0.0.1] [--port 7860] [--generator smollm2|extractive|FOLDER] ...

Every flag overrides the matching CLINIC_* environment variable (see rag/config.py).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

# Gradio routes a patient-facing page has no use for; the chat has no file components.
BLOCKED_PREFIXES = ("/gradio_api/upload", "/upload")
# The REST routes and their methods: anything else under /api gets a JSON error, not Gradio's page.
API_METHODS = {"/api/ask": {"POST"}, "/api/ask/stream": {"POST"}, "/healthz": {"GET", "HEAD"}}


def create_app(settings, pipeline=None):
    """The FastAPI app with the REST API and the Gradio chat mounted on one server."""
    import gradio as gr
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    from rag.api import Gate, install_error_handlers, make_router
    from rag.chat_ui import build_chat, page_assets
    from rag.ratelimit import RateLimiter, install_rate_limit
    from rag.service import build_pipeline
    from rag.widget import make_widget_router

    pipeline = pipeline or build_pipeline(settings, warm=True)
    gate = Gate(settings.concurrency, settings.queue_size, settings.queue_timeout_s)
    app = FastAPI(title="Clinic Q&A assistant", version="1.0",
                  description="Answers patients' questions from the clinic's articles, with verbatim citations.")
    app.state.gate = gate
    install_error_handlers(app)

    @app.middleware("http")
    async def harden(request: Request, call_next):
        path = request.url.path
        if any(path == p or path.startswith(p + "/") or path.startswith(p + "?") for p in BLOCKED_PREFIXES):
            return JSONResponse({"error": "not available"}, status_code=404)
        allowed = API_METHODS.get(path)
        if allowed is not None and request.method not in allowed:
            return JSONResponse({"error": f"use {' or '.join(sorted(allowed))} for {path}"}, status_code=405,
                                headers={"Allow": ", ".join(sorted(allowed))})
        if allowed is None and path.startswith("/api/"):
            return JSONResponse({"error": "no such endpoint; the API is described at /docs"}, status_code=404)
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        return response

    install_rate_limit(app, RateLimiter(settings.rate_limit_per_minute), behind_proxy=settings.behind_proxy)
    app.include_router(make_router(lambda: pipeline, gate=gate, max_question_chars=settings.max_question_chars))
    app.include_router(make_widget_router(settings, lambda: pipeline.messages.disclaimer))
    demo = build_chat(lambda: pipeline, settings, gate=gate)
    demo.queue(max_size=settings.queue_size, default_concurrency_limit=settings.concurrency, api_open=False)
    return gr.mount_gradio_app(
        app, demo, path="/", show_error=False, footer_links=[], run_history=False, pwa=False, ssr_mode=False,
        enable_monitoring=settings.monitoring, mcp_server=settings.mcp_server, max_file_size=1,
        **page_assets(),
    )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=7860)
    models = p.add_argument_group("models and retrieval")
    models.add_argument("--generator", help="smollm2 (default) | extractive | a local model folder")
    models.add_argument("--generator-url", help="an OpenAI-compatible server (vLLM, llama.cpp, Ollama) to generate on")
    models.add_argument("--generator-model", help="model name on that server (default: the first it lists)")
    models.add_argument("--first-sentence-budget", dest="first_sentence_budget_s", type=float, metavar="SECONDS",
                        help="time the model has for its first supported sentence before the article is "
                             "quoted instead (default 2.5; 0 = wait for the whole reply)")
    models.add_argument("--embedder", help="packaged (default) | a local sentence-transformers folder")
    models.add_argument("--top-k", type=int, help="sources given to the model (default 4)")
    models.add_argument("--corpus-dir", type=Path)
    models.add_argument("--index-dir", type=Path)
    limits = p.add_argument_group("limits")
    limits.add_argument("--max-question-chars", type=int, help="longer questions are refused (default 1000)")
    limits.add_argument("--max-history-turns", type=int, help="earlier turns a follow-up may use (default 6)")
    limits.add_argument("--concurrency", type=int, help="answers computed at once (default 2)")
    limits.add_argument("--queue-size", type=int, help="requests that may wait; more are told to retry (default 32)")
    limits.add_argument("--rate-limit-per-minute", type=int,
                        help="questions one client may ask a minute on /api/ask(/stream); 0 = no limit (default 20)")
    limits.add_argument("--behind-proxy", action="store_true", default=None,
                        help="take the client address from X-Forwarded-For (only behind a proxy that sets it)")
    widget = p.add_argument_group("the website widget (/widget.js)")
    widget.add_argument("--embed-origin", dest="embed_origins", action="append", metavar="ORIGIN",
                        help="a site allowed to embed the widget, like https://www.your-clinic.com (repeatable; "
                             "default: only this app's own pages)")
    clinic = p.add_argument_group("the clinic")
    clinic.add_argument("--clinic-name")
    clinic.add_argument("--contact", help="how patients reach the clinic (website, phone)")
    clinic.add_argument("--crisis-lines", help="replaces the crisis lines text (one '- ' line per number)")
    clinic.add_argument("--article-base-url", help="link base for documents that have no url of their own")
    clinic.add_argument("--messages-file", type=Path, help="a reviewed or translated copy of rag/messages.toml")
    privacy = p.add_argument_group("privacy and features (all off by default)")
    privacy.add_argument("--feedback-file", type=Path, help="keep thumbs up/down counts per question here")
    privacy.add_argument("--gap-file", type=Path,
                         help="keep the text of questions the articles did not cover, for `python -m rag gaps`")
    privacy.add_argument("--log-content", action="store_true", default=None, help="log patients' messages")
    privacy.add_argument("--monitoring", action="store_true", default=None, help="Gradio's /monitoring page")
    privacy.add_argument("--mcp-server", action="store_true", default=None, help="expose the chat over MCP")
    return p


def settings_from_args(args: argparse.Namespace):
    from rag.config import Settings

    fields = ("generator", "embedder", "top_k", "corpus_dir", "index_dir", "max_question_chars",
              "max_history_turns", "concurrency", "queue_size", "clinic_name", "contact", "crisis_lines",
              "article_base_url", "messages_file", "feedback_file", "gap_file", "log_content", "monitoring",
              "mcp_server", "rate_limit_per_minute", "behind_proxy", "embed_origins", "generator_url",
              "generator_model", "first_sentence_budget_s")
    overrides = {name: getattr(args, name) for name in fields}
    if overrides["crisis_lines"]:
        overrides["crisis_lines"] = overrides["crisis_lines"].replace("\\n", "\n")
    # Keyword arguments win over CLINIC_* variables, and are validated like them.
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


MALLOC_ARENAS = 2  # measured with `make load`: +107 MB over the run instead of +270 MB with glibc's default


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's per-thread memory arenas before any worker thread starts.

    Every answer runs in a thread pool, and glibc gives busy threads arenas of their own (up to
    8 per core) that it rarely returns, so a long-running server's memory kept climbing under
    load. An explicit MALLOC_ARENA_MAX in the environment wins; other C libraries are left alone.
    """
    import ctypes
    import ctypes.util
    import os

    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = getattr(libc, "mallopt", None)
    except OSError:
        return False
    m_arena_max = -8  # from glibc's malloc.h
    return bool(mallopt and mallopt(m_arena_max, arenas) == 1)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    limit_malloc_arenas()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    import uvicorn
    from pydantic import ValidationError

    from rag.errors import RagError

    try:
        settings = settings_from_args(args)
        app = create_app(settings)
    except ValidationError as exc:
        print(f"cannot start: invalid setting: {exc}", file=sys.stderr)
        return 2
    except RagError as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 2
    print(f"Clinic assistant ready on http://{args.host}:{args.port}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
