"""Copy decoding ("the model picks, the decoder copies"), the answer's mode, and quotes without
list labels: with fakes for the flow, and with the packaged model on onnxruntime-genai."""

from __future__ import annotations

import re

import pytest

from rag.chat_ui import render_answer
from rag.clauses import candidates, strip_label
from rag.grounding import Scored
from rag.types import Answer
from tests.fakes import CopyingGenerator
from tests.test_pipeline import make

ONSET = ("Rapid Onset of Action: Unlike traditional antidepressants, which may take weeks to months to produce "
         "therapeutic effects, ketamine has been shown to induce rapid and robust antidepressant effects within "
         "hours to days of administration.")
PAIN = ("For decades, medical settings have employed ketamine, a dissociative anesthetic, to treat pain and induce "
        "anesthesia.")


def test_a_list_label_is_not_part_of_what_a_sentence_says():
    assert strip_label(ONSET).startswith("Unlike traditional antidepressants")
    assert strip_label("Ketamine: From Anesthesia to Antidepressant") == "Ketamine: From Anesthesia to Antidepressant"
    assert strip_label(PAIN) == PAIN


def test_clause_candidates_are_whole_sentences_or_main_clauses_with_their_source_number():
    texts = [c.text for c in candidates([Scored(1.0, 0, (0, 10), ONSET), Scored(0.9, 1, (0, 10), PAIN)], [])]
    assert texts[0] == strip_label(ONSET)[:-1] + " [1]."
    assert ("Ketamine has been shown to induce rapid and robust antidepressant effects within hours to days of "
            "administration [1].") in texts
    assert not any(t.startswith(("Which", "To treat", "A dissociative")) for t in texts)  # fragments are not offered
    assert "Medical settings have employed ketamine, a dissociative anesthetic, to treat pain and induce " \
           "anesthesia [2]." in texts
    # "traditional antidepressants work within hours to days" is made of the sentence's words, and false
    assert not any(t.lower().startswith("traditional antidepressants") and "hours" in t for t in texts)


def test_a_copy_decoded_answer_is_generated_verbatim_and_cited(settings, store, embedder):
    gen = CopyingGenerator(pick=-1)
    answer = make(settings, store, embedder, gen).ask("How quickly does ketamine work for depression?")
    assert answer.status == "answered" and answer.mode == "generated", answer
    offered = gen.offered[-1]
    assert offered and all(re.search(r" \[\d\][.!?]$", c) for options in offered for c in options)
    first = offered[0][-1]
    assert answer.answer.startswith(re.sub(r" \[\d\]([.!?])$", "", first).rstrip(".!?"))
    quote = answer.citations[0].quote
    body = re.sub(r"\s*\[\d\]", "", answer.answer).strip().rstrip(".")
    assert body in quote or body[0].lower() + body[1:] in quote  # the words are the source's, in order
    assert answer.to_dict()["mode"] == "generated"


def test_each_copied_sentence_goes_out_before_the_model_chooses_the_next(settings, store, embedder):
    """A copied clause is whole when it is chosen: the patient reads it while the model takes it
    in, instead of waiting for the next choice as free text must (a sentence may still grow)."""
    import threading

    class Waiting(CopyingGenerator):
        def __init__(self):
            super().__init__(pick=-1, sentences=2)
            self.shown, self.in_time = threading.Event(), None

        def copy(self, messages, choices, may_stop=True):
            pieces = super().copy(messages, choices, may_stop)
            yield next(pieces)
            self.in_time = self.shown.wait(5)  # the first sentence must be out before the second is chosen
            yield from pieces

    gen = Waiting()
    events = make(settings, store, embedder, gen).stream("How quickly does ketamine work for depression?")
    tokens = []
    for event in events:
        if event.kind == "token":
            tokens.append(event.data)
            gen.shown.set()
    assert gen.in_time is True and len(tokens) == 2, (gen.in_time, tokens)


def test_a_quoted_answer_says_so_and_drops_list_labels(settings, store, embedder):
    answer = make(settings, store, embedder).ask("Does ketamine have a rapid onset of action, within hours to days?")
    assert answer.status == "answered" and answer.mode == "quoted"
    assert "Rapid Onset of Action:" not in answer.answer
    assert any(c.quote.startswith("Rapid Onset of Action:") for c in answer.citations), answer  # kept in the citation
    assert "In the article's words" in render_answer(answer)
    assert "In the article's words" not in render_answer(Answer("x [1].", "answered", mode="generated"))
    refused = make(settings, store, embedder).ask("How much does ketamine therapy cost?")
    assert refused.mode is None and "mode" not in refused.to_dict()


def test_the_widget_is_told_how_to_label_quoted_answers(settings):
    from rag.widget import panel_defaults

    assert panel_defaults(settings, "disclaimer")["modeLabels"] == {"quoted": "In the article's words"}


# --- the packaged model on onnxruntime-genai -----------------------------------------------------
@pytest.fixture(scope="module")
def onnx_generator(tmp_path_factory):
    from rag.config import Settings
    from rag.onnx_backend import OnnxGenerator, available

    if not available():
        pytest.skip("onnxruntime-genai is not installed (`make install`)")
    settings = Settings(_env_file=None)
    generator = OnnxGenerator("smollm2", settings.cache_dir, max_new_tokens=24)
    generator.load()  # converts once into the cache folder (about 15 s), then loads in well under a second
    return generator


@pytest.mark.slow
def test_the_onnx_runtime_streams_free_text(onnx_generator):
    messages = [{"role": "user", "content": "Say hello."}]
    text = "".join(onnx_generator.stream(messages))
    assert text.strip() and onnx_generator.count_tokens(text) <= 26
    assert (onnx_generator.model_dir() / "genai_config.json").exists()


@pytest.mark.slow
def test_the_onnx_runtime_copies_one_offered_clause_verbatim(onnx_generator):
    offered = ["Ketamine has been shown to induce rapid antidepressant effects within hours to days [1].",
               "Ketamine is generally well-tolerated in a controlled medical setting [2]."]
    messages = [{"role": "user", "content": "Sources:\n[1] " + offered[0] + "\n[2] " + offered[1]
                 + "\n\nQuestion: How fast does ketamine work?"}]
    out = list(onnx_generator.copy(messages, [offered, offered]))
    assert 1 <= len(out) <= 2
    assert out[0] in offered
    if len(out) == 2:
        assert out[1].startswith(" ") and out[1].strip() in offered and out[1].strip() != out[0]
