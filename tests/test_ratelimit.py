"""The per-client limit on the answer routes: a sliding one-minute window, keys that cannot be
faked without a proxy, and 429s that say when to retry."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app import _parser, settings_from_args
from rag.ratelimit import RateLimiter, client_key, install_rate_limit
from tests.test_api import GRADIO_QUEUE_WARNINGS, make_app

pytestmark = GRADIO_QUEUE_WARNINGS
QUESTION = {"question": "How quickly does ketamine work for depression?"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from tests.test_api import build_env

    return build_env(tmp_path_factory.mktemp("ratelimit"))


def test_limit_flags():
    settings = settings_from_args(_parser().parse_args(["--rate-limit-per-minute", "5", "--behind-proxy"]))
    assert settings.rate_limit_per_minute == 5 and settings.behind_proxy is True
    defaults = settings_from_args(_parser().parse_args([]))
    assert defaults.rate_limit_per_minute == 20 and defaults.behind_proxy is False


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_limiter_allows_the_quota_then_says_how_long_to_wait():
    clock = Clock()
    limiter = RateLimiter(3, clock=clock)
    assert [limiter.allow("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.allow("a") == 60
    assert limiter.allow("b") == 0  # other clients are counted apart
    clock.now += 45.5
    assert limiter.allow("a") == 15  # refusals are not counted against the window
    clock.now += 14.5
    assert limiter.allow("a") == 0  # the first three are a minute old now


def test_limiter_window_slides_rather_than_resets():
    clock = Clock()
    limiter = RateLimiter(2, clock=clock)
    limiter.allow("a")
    clock.now += 30
    limiter.allow("a")
    clock.now += 31  # the first request left the window, the second has not
    assert limiter.allow("a") == 0
    assert limiter.allow("a") == 29  # the second one leaves at 30 + 60


def test_limiter_off_and_memory_bounded():
    assert all(RateLimiter(0).allow("a") == 0 for _ in range(100))
    limiter = RateLimiter(1, clock=Clock(), max_clients=2)
    for key in ("a", "b", "c"):
        limiter.allow(key)
    assert limiter.allow("a") == 0  # forgotten as the least recently seen
    assert limiter.allow("c") > 0


def test_client_key_trusts_forwarded_for_only_behind_a_proxy():
    assert client_key("10.0.0.5", "203.0.113.9", behind_proxy=False) == "10.0.0.5"
    assert client_key("10.0.0.5", "203.0.113.9, 10.0.0.1", behind_proxy=True) == "203.0.113.9"
    assert client_key("10.0.0.5", "", behind_proxy=True) == "10.0.0.5"
    assert client_key(None, None, behind_proxy=False) == "unknown"


def _tiny_app(limit: int, behind_proxy: bool) -> TestClient:
    app = FastAPI()
    install_rate_limit(app, RateLimiter(limit), behind_proxy=behind_proxy)
    app.add_api_route("/api/ask", lambda: {"ok": True}, methods=["POST"])
    app.add_api_route("/healthz", lambda: {"ok": True}, methods=["GET"])
    return TestClient(app)


def test_forwarded_for_cannot_dodge_the_limit_unless_behind_a_proxy():
    direct = _tiny_app(1, behind_proxy=False)
    assert direct.post("/api/ask", headers={"X-Forwarded-For": "1.1.1.1"}).status_code == 200
    assert direct.post("/api/ask", headers={"X-Forwarded-For": "2.2.2.2"}).status_code == 429
    assert direct.get("/healthz").status_code == 200  # only the answer routes are limited
    proxied = _tiny_app(1, behind_proxy=True)
    assert proxied.post("/api/ask", headers={"X-Forwarded-For": "1.1.1.1"}).status_code == 200
    assert proxied.post("/api/ask", headers={"X-Forwarded-For": "2.2.2.2"}).status_code == 200
    assert proxied.post("/api/ask", headers={"X-Forwarded-For": "1.1.1.1"}).status_code == 429


def test_answer_routes_get_429_with_retry_after_past_the_limit(built):
    with TestClient(make_app(built, rate_limit_per_minute=2), raise_server_exceptions=False) as c:
        assert c.post("/api/ask", json=QUESTION).status_code == 200
        assert c.post("/api/ask/stream", json=QUESTION).status_code == 200  # both routes share the count
        for path in ("/api/ask", "/api/ask/stream"):
            r = c.post(path, json=QUESTION)
            assert r.status_code == 429 and r.headers["content-type"] == "application/json"
            assert 1 <= int(r.headers["retry-after"]) <= 60
            assert r.json()["error"].startswith("You have asked several questions in a short time. Please wait about")
        assert c.get("/healthz").status_code == 200
