"""Start the clinic assistant: Gradio chat at /, REST API at /api, health at /healthz.

    python app.py [--host 127.0.0.1] [--port 7860] [--generator smollm2|extractive]
"""

from __future__ import annotations

import argparse
import logging
import sys


def create_app(settings, pipeline=None):
    """The FastAPI app with the REST API and the Gradio chat mounted on one server."""
    import gradio as gr
    from fastapi import FastAPI

    from rag.api import install_error_handlers, make_router
    from rag.chat_ui import build_chat
    from rag.service import build_pipeline

    pipeline = pipeline or build_pipeline(settings, warm=True)
    app = FastAPI(title="Clinic Q&A assistant", version="1.0",
                  description="Answers patients' questions from the clinic's articles, with verbatim citations.")
    install_error_handlers(app)
    app.include_router(make_router(lambda: pipeline))
    demo = build_chat(lambda: pipeline, pipeline.messages.disclaimer)
    demo.queue(max_size=32, default_concurrency_limit=2)
    return gr.mount_gradio_app(app, demo, path="/", show_error=False, enable_monitoring=False,
                               mcp_server=False, footer_links=["api"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, local only)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--generator", help="smollm2 (default) | extractive | a local model folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    import uvicorn

    from rag.config import Settings
    from rag.errors import RagError

    settings = Settings().with_overrides(generator=args.generator)
    try:
        app = create_app(settings)
    except RagError as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 2
    print(f"Clinic assistant ready on http://{args.host}:{args.port}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
