"""The embeddable chat widget, server side: ``/widget.js`` (the one tag a clinic pastes into its
site), the ``/widget`` panel page that script shows in an iframe, and the panel's assets.

The panel is an iframe so the host page's CSS and the widget cannot break each other. Which
sites may frame it is the clinic's list (``Settings.embed_origins``), sent to the browser as
``Content-Security-Policy: frame-ancestors``; any other page gets the browser's blocked frame.
"""

from __future__ import annotations

import json
import logging

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from .chat_ui import EXAMPLES, MODE_LABEL, STATUS_LABEL, WEB_DIR

log = logging.getLogger("rag.widget")
DEFAULT_TITLE = "Questions about our articles"
DEFAULT_COLOR = "#0f766e"
STARTERS = 3
ASSETS = {  # URL ▶ (file in rag/web, media type)
    "/widget.js": ("widget.js", "text/javascript; charset=utf-8"),
    "/widget/panel.js": ("widget-panel.js", "text/javascript; charset=utf-8"),
    "/widget/panel.css": ("widget-panel.css", "text/css; charset=utf-8"),
}


def frame_ancestors(embed_origins: list[str]) -> str:
    return " ".join(["'self'", *embed_origins])


def panel_csp(embed_origins: list[str]) -> str:
    """Only this app's own script, styles and API; framed only by the listed sites."""
    return ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            f"base-uri 'none'; form-action 'none'; frame-ancestors {frame_ancestors(embed_origins)}")


def panel_defaults(settings, disclaimer: str) -> dict:
    """What the panel shows when the embedding tag does not say otherwise."""
    return {
        "title": DEFAULT_TITLE,
        "clinicName": settings.clinic_name,
        "greeting": "Hello! Ask me about the clinic's articles. Every answer quotes the passage it comes from.",
        "disclaimer": " ".join(disclaimer.split()),
        "placeholder": "Type your question…",
        "maxLength": settings.max_question_chars,
        "maxHistoryTurns": settings.max_history_turns,
        "starters": list(settings.example_questions or EXAMPLES)[:STARTERS],
        "color": DEFAULT_COLOR,
        "statusLabels": STATUS_LABEL,
        "modeLabels": MODE_LABEL,
    }


def _script_json(data: dict) -> str:
    """JSON that cannot close its <script> element or open a comment, whatever the strings hold."""
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_panel(defaults: dict) -> str:
    template = (WEB_DIR / "widget.html").read_text(encoding="utf-8")
    return template.replace("{{DEFAULTS}}", _script_json(defaults))


def log_embed_policy(embed_origins: list[str], rate_limit_per_minute: int = 0) -> None:
    """One line at start saying where the widget may appear and how to change that."""
    if embed_origins:
        log.info("The chat widget (/widget.js) may be embedded on: %s", ", ".join(embed_origins))
        if rate_limit_per_minute <= 0:
            log.warning("The widget is allowed on other sites but questions are not limited per client; "
                        "consider --rate-limit-per-minute 20 (CLINIC_RATE_LIMIT_PER_MINUTE)")
    else:
        log.info("The chat widget (/widget.js) may be embedded only on this app's own pages. To allow a site, "
                 "start with --embed-origin https://www.your-clinic.com (repeat for more) or set "
                 "CLINIC_EMBED_ORIGINS=https://www.your-clinic.com,https://other.example")


def make_widget_router(settings, get_disclaimer) -> APIRouter:
    """Routes for the widget; ``get_disclaimer`` gives the clinic's disclaimer text."""
    router = APIRouter(include_in_schema=False)
    csp = panel_csp(settings.embed_origins)
    files = {url: ((WEB_DIR / name).read_bytes(), media) for url, (name, media) in ASSETS.items()}
    page = render_panel(panel_defaults(settings, get_disclaimer()))
    log_embed_policy(settings.embed_origins, settings.rate_limit_per_minute)

    def asset(url: str):
        body, media = files[url]

        async def serve():
            # Other sites load /widget.js: let them, and let browsers keep it for a few minutes.
            return Response(body, media_type=media, headers={
                "Cache-Control": "public, max-age=300", "Cross-Origin-Resource-Policy": "cross-origin"})
        return serve

    for url in ASSETS:
        router.add_api_route(url, asset(url), methods=["GET", "HEAD"])

    @router.api_route("/widget", methods=["GET", "HEAD"])
    async def panel():
        return HTMLResponse(page, headers={"Content-Security-Policy": csp, "Cache-Control": "no-cache",
                                           "Referrer-Policy": "no-referrer"})

    return router
