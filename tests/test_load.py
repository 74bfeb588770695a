"""The load test in a short form (CI): 20 clients for a few seconds against a real socket, fake
models behind it. ``make load`` runs the full 20 clients x 60 s against the real app."""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import os
import sys
import time
from pathlib import Path

import pytest

from tests.fakes import ScriptedGenerator
from tests.test_api import GRADIO_QUEUE_WARNINGS, REPLY, build_env, make_app, serve

ROOT = Path(__file__).resolve().parent.parent
pytestmark = GRADIO_QUEUE_WARNINGS


@functools.cache
def load_tool():
    """bench/load.py, imported by path (bench/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("bench_load", ROOT / "bench" / "load.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_env(tmp_path_factory.mktemp("load"))


def test_twenty_clients_all_get_an_answer_or_a_polite_refusal(built):
    tool = load_tool()
    # A model that takes a moment per word, so requests overlap and the queue fills.
    app = make_app(built, generator=ScriptedGenerator(REPLY, stall_s=0.002), concurrency=2, queue_size=32)
    with serve(app) as base:
        report = asyncio.run(tool.run_load(base.rstrip("/"), clients=20, duration_s=4, timeout_s=30,
                                           pid=os.getpid()))
    print("\n".join(report.lines()))
    assert report.errors == 0, report.error_details
    assert report.requests == report.answered + report.refused and report.answered > 20
    assert app.state.gate.inside == 0
    if report.rss_before_mb is not None:  # the server runs in this process here
        assert report.rss_after_mb - report.rss_before_mb < 150, report.lines()


def test_requests_beyond_the_queue_are_refused_quickly_not_left_hanging(built):
    tool = load_tool()
    # One answer at a time, two waiting, each answer slow: most of 20 clients must be turned away.
    app = make_app(built, generator=ScriptedGenerator(REPLY, stall_s=0.02), concurrency=1, queue_size=2)
    with serve(app) as base:
        report = asyncio.run(tool.run_load(base.rstrip("/"), clients=20, duration_s=3, timeout_s=30))
    print("\n".join(report.lines()))
    assert report.errors == 0, report.error_details
    assert report.refused > report.answered > 0
    assert set(report.statuses) <= {"200", "503"}
    # Client and server share this process (and its GIL) here, so allow for a busy moment; a
    # refusal must still come long before an answer would have.
    assert report.refusal_p50_ms < 500 and report.refusal_max_ms < 5000, report.lines()
    assert report.refusal_p50_ms < report.answer_p50_ms / 4, report.lines()


def test_the_load_tool_refuses_other_machines():
    tool = load_tool()
    with pytest.raises(SystemExit, match="not this machine"):
        tool.require_loopback("http://192.0.2.10:7860")
    tool.require_loopback("http://127.0.0.1:7860")
    tool.require_loopback("http://localhost:7860")


def test_the_load_tool_counts_a_refusal_without_retry_after_as_an_error():
    tool = load_tool()

    class Response:
        def __init__(self, status, headers, body):
            self.status_code, self.headers, self._body = status, headers, body

        async def aread(self):
            return self._body

        async def __aenter__(self):
            return self

        async def __aexit__(self, *exc):
            return False

    class Client:
        def __init__(self, response):
            self.response = response

        def stream(self, method, endpoint, json):
            return self.response

    async def outcome(status, headers, body, endpoint="/api/ask"):
        return await tool.one_request(Client(Response(status, headers, body)), endpoint, "q", timeout=5)

    assert asyncio.run(outcome(429, {"retry-after": "10"}, b'{"error": "slow down"}')).kind == "refused"
    assert asyncio.run(outcome(503, {}, b'{"error": "busy"}')).kind == "error"
    assert asyncio.run(outcome(500, {}, b'{"error": "x"}')).kind == "error"
    assert asyncio.run(outcome(200, {}, b"event: token\ndata: \"a\"\n\n", "/api/ask/stream")).kind == "error"
    assert asyncio.run(outcome(200, {}, b'{"status": "answered"}')).kind == "answered"



def test_a_request_that_waits_past_the_queue_timeout_is_refused_politely(built):
    from fastapi.testclient import TestClient

    app = make_app(built, concurrency=1, queue_size=5, queue_timeout_s=0.5)
    gate = app.state.gate
    with TestClient(app, raise_server_exceptions=False) as client, gate.slot():  # the only slot is taken
        for path in ("/api/ask", "/api/ask/stream"):
            started = time.monotonic()
            r = client.post(path, json={"question": "Is ketamine safe?"})
            waited = time.monotonic() - started
            assert r.status_code == 503 and r.headers["retry-after"] == "30" and "busy" in r.json()["error"]
            assert 0.4 < waited < 5, waited
        assert gate.inside == 1  # only the slot held above
    assert gate.inside == 0
    with TestClient(app, raise_server_exceptions=False) as client:  # free again: answered, slot returned
        with client.stream("POST", "/api/ask/stream", json={"question": "Is ketamine safe?"}) as r:
            assert r.status_code == 200 and "event: done" in "".join(r.iter_text())
        deadline = time.monotonic() + 5
        while gate.inside and time.monotonic() < deadline:
            time.sleep(0.02)
        assert gate.inside == 0



def test_the_gate_refuses_at_once_when_the_answers_ahead_would_outlast_the_queue_timeout():
    import threading

    from rag.api import Gate

    gate = Gate(concurrency=1, queue_size=10, queue_timeout_s=1.0)
    assert not gate.busy()  # no pace known yet: admit
    with gate.slot():
        time.sleep(0.6)
    assert 0.5 < gate.mean_answer_s < 2
    with gate.slot():  # one answer under way: a newcomer would wait about 0.6 s
        assert not gate.busy()

        def wait_in_line():
            with gate.slot(5):
                pass

        waiter = threading.Thread(target=wait_in_line)
        waiter.start()
        deadline = time.monotonic() + 5
        while gate.inside < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        # one answering, one waiting: a newcomer would wait about 2 x 0.6 s, past the timeout
        assert gate.expected_wait_s() > 1.0 and gate.busy()
    waiter.join(5)
    assert gate.inside == 0 and not gate.busy()


def test_the_server_caps_glibc_memory_arenas_unless_told_otherwise(monkeypatch):
    """Per-thread arenas made the server's memory climb under load (measured with `make load`)."""
    import ctypes.util

    from app import limit_malloc_arenas

    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas() is False  # the operator's explicit setting wins
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    if ctypes.util.find_library("c") is None or not hasattr(ctypes.CDLL(ctypes.util.find_library("c")), "mallopt"):
        pytest.skip("not glibc: nothing to cap")
    assert limit_malloc_arenas() is True
