"""The website widget's server side over HTTP with fake models: which sites may frame the
panel, what the one script may do, and what the panel starts with."""

from __future__ import annotations

import json
import logging
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app import _parser, settings_from_args
from rag.config import Settings
from rag.origins import normalise_origin
from rag.widget import make_widget_router, panel_defaults, render_panel
from tests.test_api import GRADIO_QUEUE_WARNINGS, make_app

pytestmark = GRADIO_QUEUE_WARNINGS
SITE = "https://www.example-clinic.com"
QUESTION = {"question": "How quickly does ketamine work for depression?"}


@pytest.fixture(scope="module")
def client(built):
    app = make_app(built, embed_origins=[SITE, "http://localhost:8000"])
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from tests.test_api import build_env

    return build_env(tmp_path_factory.mktemp("widget-api"))


# --- origins ----------------------------------------------------------------------------------
@pytest.mark.parametrize("raw,origin", [
    ("https://www.example-clinic.com", "https://www.example-clinic.com"),
    ("HTTPS://Example.org:443/", "https://example.org"),
    ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
    ("http://localhost:80", "http://localhost"),
    ("http://[::1]:8080", "http://[::1]:8080"),
])
def test_origins_are_normalised_as_browsers_send_them(raw, origin):
    assert normalise_origin(raw) == origin


@pytest.mark.parametrize("raw,hint", [
    ("www.example-clinic.com", "not a site origin"),
    ("https://*.example.com", "not a site origin"),
    ("ftp://example.com", "not a site origin"),
    ("https://example.com/clinic", "more than scheme, host and port"),
    ("https://example.com?x=1", "more than scheme, host and port"),
    ("https://example.com:99999", "bad port"),
])
def test_bad_origins_are_refused_with_what_to_write(raw, hint):
    with pytest.raises(ValueError, match=hint) as caught:
        normalise_origin(raw)
    assert "https://www.example-clinic.com" in str(caught.value)


def test_embed_origins_from_env_as_a_list_or_comma_separated(monkeypatch):
    monkeypatch.setenv("CLINIC_EMBED_ORIGINS", "https://A.example/, http://localhost:8000")
    assert Settings(_env_file=None).embed_origins == ["https://a.example", "http://localhost:8000"]
    monkeypatch.setenv("CLINIC_EMBED_ORIGINS", '["https://b.example"]')
    assert Settings(_env_file=None).embed_origins == ["https://b.example"]
    monkeypatch.setenv("CLINIC_EMBED_ORIGINS", "b.example")
    with pytest.raises(ValidationError, match="not a site origin"):
        Settings(_env_file=None)


def test_embed_origin_flag_repeats():
    args = _parser().parse_args(["--embed-origin", SITE, "--embed-origin", "http://localhost:8000/"])
    assert settings_from_args(args).embed_origins == [SITE, "http://localhost:8000"]
    assert settings_from_args(_parser().parse_args([])).embed_origins == []


# --- /widget.js, /widget and its assets -------------------------------------------------------------
def test_widget_script_is_small_and_self_contained(client):
    r = client.get("/widget.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert len(r.content) < 30_000
    assert r.headers["cross-origin-resource-policy"] == "cross-origin"
    code = re.sub(r"/\*.*?\*/", "", r.text, flags=re.S)  # the usage comment shows an example tag
    # No cookies, no other requests: the only address it builds is the panel's, from its own src.
    assert "document.cookie" not in code and "fetch(" not in code and "XMLHttpRequest" not in code
    assert "localStorage" not in code
    assert re.findall(r"""["']https?://[^"']*["']""", code) == []
    assert 'new URL("widget", script.src)' in code
    assert "event.origin !== appOrigin" in code  # messages from anything but the panel are ignored


def test_panel_sends_frame_ancestors_for_the_listed_sites_only(client):
    r = client.get("/widget")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = dict(part.strip().split(" ", 1) for part in r.headers["content-security-policy"].split(";"))
    assert csp["frame-ancestors"] == f"'self' {SITE} http://localhost:8000"
    assert csp["script-src"] == "'self'" and csp["connect-src"] == "'self'" and csp["default-src"] == "'none'"
    assert "unsafe-inline" not in r.headers["content-security-policy"]


def test_panel_with_no_list_may_be_framed_only_by_the_app_itself(built, caplog):
    settings = built[0].model_copy(update={"embed_origins": []})
    with caplog.at_level(logging.INFO, logger="rag.widget"):
        router = make_widget_router(settings, lambda: "Information, not advice.")
    app = FastAPI()
    app.include_router(router)
    r = TestClient(app).get("/widget")
    assert r.headers["content-security-policy"].endswith("frame-ancestors 'self'")
    lines = [rec.getMessage() for rec in caplog.records if rec.name == "rag.widget"]
    assert len(lines) == 1
    assert "only on this app's own pages" in lines[0]
    assert "--embed-origin" in lines[0] and "CLINIC_EMBED_ORIGINS" in lines[0]


def test_start_log_nudges_towards_a_limit_when_other_sites_may_embed(built, caplog):
    with caplog.at_level(logging.INFO, logger="rag.widget"):
        make_widget_router(built[0].model_copy(update={"embed_origins": [SITE]}), lambda: "x")
        unlimited = [r.getMessage() for r in caplog.records]
        caplog.clear()
        make_widget_router(built[0].model_copy(update={"embed_origins": [SITE], "rate_limit_per_minute": 10}),
                           lambda: "x")
        limited = [r.getMessage() for r in caplog.records]
    assert unlimited[0] == f"The chat widget (/widget.js) may be embedded on: {SITE}"
    assert "--rate-limit-per-minute" in unlimited[1]
    assert limited == unlimited[:1]


def test_panel_defaults_come_from_the_clinic_settings(client):
    page = client.get("/widget").text
    data = json.loads(re.search(r'<script id="panel-defaults" type="application/json">(.*?)</script>', page).group(1))
    assert data["maxLength"] == 1000 and data["clinicName"] == "Dr. Akhil Dhanda's psychiatry practice"
    assert "not medical advice" in data["disclaimer"]
    assert data["starters"][0] == "How quickly does ketamine work for depression?"
    assert data["statusLabels"]["crisis"] == "Please reach out for help now"


def test_panel_defaults_cannot_break_out_of_their_script_element(built):
    settings = built[0].model_copy(update={"clinic_name": "</script><script>alert(1)</script><!--"})
    page = render_panel(panel_defaults(settings, "Not advice & <b>bold</b>"))
    block = re.search(r'<script id="panel-defaults" type="application/json">(.*?)</script>', page).group(1)
    assert "<" not in block and ">" not in block
    data = json.loads(block)
    assert data["clinicName"] == "</script><script>alert(1)</script><!--"
    assert data["disclaimer"] == "Not advice & <b>bold</b>"


@pytest.mark.parametrize("path,media", [("/widget/panel.js", "text/javascript"), ("/widget/panel.css", "text/css")])
def test_panel_assets_are_served(client, path, media):
    r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith(media)
    assert r.headers["x-content-type-options"] == "nosniff"


def test_panel_renders_text_never_html():
    """Everything a patient, an article or the model wrote enters the panel as text."""
    from rag.chat_ui import WEB_DIR

    code = (WEB_DIR / "widget-panel.js").read_text(encoding="utf-8")
    assert "innerHTML" not in code and "insertAdjacentHTML" not in code and "document.write" not in code
    assert "eval(" not in code
