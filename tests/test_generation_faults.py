"""A model that hangs, drips forever or raises still gives the patient an answer in bounded
time (the article's quotes with a notice), and a client that leaves mid-stream frees its slot."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from rag.deadline import within_deadline
from rag.errors import GenerationError
from rag.pipeline import Pipeline
from tests.fakes import ScriptedGenerator
from tests.test_api import REPLY, build_env, make_app, serve

QUESTION = "How quickly does ketamine work for depression?"
FALLBACK_NOTICE = "could not write a reply"


class HangingGenerator:
    """Never sends a piece until ``release`` is set (a stuck model or remote server)."""

    model_id = "test/hanging"

    def __init__(self):
        self.release = threading.Event()

    def stream(self, messages):
        self.release.wait(60)
        yield "Too late [1]."


class DrippingGenerator:
    """Sends a word every ``gap_s`` forever and records when it is told to stop."""

    model_id = "test/dripping"

    def __init__(self, gap_s: float, text: str = "ketamine"):
        self.gap_s, self.text = gap_s, text
        self.sent = 0
        self.closed = threading.Event()

    def stream(self, messages):
        try:
            while True:
                time.sleep(self.gap_s)
                self.sent += 1
                yield self.text + " "
        finally:
            self.closed.set()


class RaisingGenerator:
    model_id = "test/raising"

    def __init__(self, when: str):
        self.when = when

    def stream(self, messages):
        if self.when == "call":
            raise RuntimeError("backend refused the connection")
        return self._pieces()

    @staticmethod
    def _pieces():
        yield "Ketamine "
        raise MemoryError("out of memory while decoding")


def timed_ask(pipeline: Pipeline, question: str = QUESTION):
    t0 = time.monotonic()
    answer = pipeline.ask(question)
    return answer, time.monotonic() - t0


def assert_extractive_fallback(answer, store):
    assert answer.status == "answered" and FALLBACK_NOTICE in (answer.notice or "")
    assert answer.citations
    for c in answer.citations:
        assert store.documents[c.doc_id].text[c.start : c.end] == c.quote


def test_a_hanging_model_gives_the_quoted_answer_by_the_deadline(settings, store, embedder):
    settings = settings.model_copy(update={"generation_deadline_s": 1.0, "generation_timeout_s": 30.0})
    generator = HangingGenerator()
    try:
        answer, took = timed_ask(Pipeline(settings, store, embedder, generator))
    finally:
        generator.release.set()
    assert took < 5, took
    assert_extractive_fallback(answer, store)


def test_a_model_that_never_stops_is_cut_off_by_the_total_deadline(settings, store, embedder):
    # Each piece comes well within the per-piece timeout; only the total deadline can stop it.
    settings = settings.model_copy(update={"generation_deadline_s": 1.0, "generation_timeout_s": 0.5})
    generator = DrippingGenerator(gap_s=0.05)
    answer, took = timed_ask(Pipeline(settings, store, embedder, generator))
    assert took < 5, took
    assert_extractive_fallback(answer, store)
    assert generator.closed.wait(2), "the model was not told to stop"
    sent = generator.sent
    time.sleep(0.3)
    assert generator.sent <= sent + 1


@pytest.mark.parametrize("when", ["call", "mid-reply"])
def test_a_model_that_raises_gives_the_quoted_answer(settings, store, embedder, when):
    answer, took = timed_ask(Pipeline(settings, store, embedder, RaisingGenerator(when)))
    assert took < 5
    assert_extractive_fallback(answer, store)


def test_deadline_passes_pieces_through_and_keeps_generation_errors():
    assert list(within_deadline(iter(["a", "b", "c"]), total_s=5)) == ["a", "b", "c"]

    def failing():
        yield "a"
        raise GenerationError("model said no")

    with pytest.raises(GenerationError, match="model said no"):
        list(within_deadline(failing(), total_s=5))


def test_deadline_tells_silence_from_a_slow_whole_reply():
    with pytest.raises(GenerationError, match="sent nothing for 0.2 s"):
        list(within_deadline(DrippingGenerator(gap_s=1.0).stream([]), total_s=5, idle_s=0.2))
    with pytest.raises(GenerationError, match="did not finish within 0.3 s"):
        list(within_deadline(DrippingGenerator(gap_s=0.02).stream([]), total_s=0.3, idle_s=0.2))


def test_a_client_that_leaves_mid_stream_frees_its_slot_and_stops_the_model(tmp_path):
    built = build_env(tmp_path)
    # Sentences that pass the grounding check, sent slowly, so the client can leave mid-answer.
    generator = DrippingGenerator(gap_s=0.05, text=REPLY.split(". ")[0] + ".")
    app = make_app(built, generator=generator, concurrency=1, queue_size=0, generation_deadline_s=30.0)
    gate = app.state.gate
    with serve(app) as base:
        with httpx.Client(base_url=base, timeout=10) as client:
            with client.stream("POST", "/api/ask/stream", json={"question": QUESTION}) as r:
                assert r.status_code == 200
                first = next(r.iter_lines())
                assert first.startswith("event: ")
                assert gate.inside == 1
            # the response is closed here, the connection dropped mid-answer
        deadline = time.monotonic() + 10
        while (gate.inside or not generator.closed.is_set()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert gate.inside == 0, "the slot of a client that left was not freed"
        assert generator.closed.is_set(), "the model kept writing for a client that left"
        with httpx.Client(base_url=base, timeout=10) as client:  # and the next patient gets in
            generator.gap_s = 0.0
            r = client.post("/api/ask", json={"question": QUESTION})
            assert r.status_code == 200 and r.json()["status"] == "answered"


UNSUPPORTED = ("Ketamine was first discovered on the moon by a team of astronauts in nineteen eighty. "
               "It is usually taken with orange juice every single morning before breakfast. "
               "Most patients report that it cures every illness within minutes of the first dose.")
SUPPORTED = "Ketamine has been shown to induce rapid and robust antidepressant effects within hours to days [1]."
MORE = " Traditional antidepressants may take weeks to months to produce therapeutic effects [1]."


def test_past_the_first_sentence_budget_the_quotes_go_out_and_the_model_stops(settings, store, embedder):
    # A slow model whose sentences all fail the check: without a budget the patient waits for
    # the whole reply only to get the quotes; with one, the quotes come at the budget.
    slow = ScriptedGenerator(UNSUPPORTED, stall_s=0.1)  # 46 words, about 4.6 s
    unbounded, took_unbounded = timed_ask(Pipeline(
        settings.model_copy(update={"first_sentence_budget_s": 0.0}), store, embedder, slow))
    assert took_unbounded > 2.0, took_unbounded  # it waited for two failed sentences at least

    slow = ScriptedGenerator(UNSUPPORTED, stall_s=0.1)
    bounded, took = timed_ask(Pipeline(
        settings.model_copy(update={"first_sentence_budget_s": 0.5}), store, embedder, slow))
    assert took < 1.5, took
    stop_by = time.monotonic() + 2  # the worker closes the model's stream at its next piece
    while not slow.closed and time.monotonic() < stop_by:
        time.sleep(0.02)
    assert slow.closed == 1  # generation was stopped, not left running
    assert bounded.status == "answered" and bounded.notice is None  # the usual quoted answer, no error notice
    assert bounded.answer == unbounded.answer and "moon" not in bounded.answer
    for c in bounded.citations:
        assert store.documents[c.doc_id].text[c.start : c.end] == c.quote


class PausingGenerator:
    """Sends its first sentence and the next word at once (so the sentence is seen to be
    complete), then pauses, then sends the rest of the second sentence word by word."""

    model_id = "test/pausing"

    def __init__(self, first: str, second: str, pause_s: float):
        self.first, self.second, self.pause_s = first, second, pause_s

    def stream(self, messages):
        head, *rest = self.second.split()
        yield self.first
        yield " " + head
        time.sleep(self.pause_s)
        for word in rest:
            yield " " + word


def test_the_budget_applies_only_until_a_supported_sentence_is_out(settings, store, embedder):
    # The first sentence arrives within the budget; the second, well after it, is still kept.
    generator = PausingGenerator(SUPPORTED, MORE, pause_s=1.2)
    settings = settings.model_copy(update={"first_sentence_budget_s": 0.7})
    answer, took = timed_ask(Pipeline(settings, store, embedder, generator))
    assert took > 0.7, took
    assert "rapid and robust" in answer.answer and "weeks to months" in answer.answer, answer.answer


def test_the_naive_baseline_is_not_cut_by_the_budget(settings, store, embedder):
    generator = ScriptedGenerator(UNSUPPORTED, stall_s=0.02)
    settings = settings.model_copy(update={"first_sentence_budget_s": 0.2})
    answer, _ = timed_ask(Pipeline(settings, store, embedder, generator, guard=False))
    assert "breakfast" in answer.answer and "minutes" in answer.answer
