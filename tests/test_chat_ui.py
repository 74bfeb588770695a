"""Rendering of chat replies: quotes in their paragraphs, text-fragment links, escaping, statuses.

Pure functions, no Gradio and no server: milliseconds.
"""

from __future__ import annotations

import json
import logging
import re
from html.parser import HTMLParser
from urllib.parse import unquote

import pytest

from rag.chat_ui import (
    EXAMPLES,
    FRIENDLY_ERROR,
    FeedbackStore,
    article_url,
    converse,
    history_for,
    log_failure,
    passage,
    plain_reply,
    render_answer,
    render_pending,
    render_text,
    render_user,
    text_fragment_url,
)
from rag.errors import InputError
from rag.pipeline import Pipeline
from rag.types import Answer, Citation, Document
from tests.conftest import ARTICLE
from tests.fakes import ScriptedGenerator

XSS = "<img src=x onerror=alert(1)>"
TEXT = ARTICLE.read_text(encoding="utf-8")
TRD_QUOTE = ("TRD is associated with significant functional impairment, increased risk of suicide, and reduced "
             "quality of life.")


def _doc(text: str = TEXT, url: str | None = "https://clinic.example/ketamine/") -> Document:
    return Document("ketamine", "Ketamine & Psychedelic Therapies", text, url)


def _cite(doc: Document, quote: str, n: int = 1) -> Citation:
    start = doc.text.index(quote)
    return Citation(n, doc.doc_id, doc.title, quote, start, start + len(quote), doc.url)


class _Tags(HTMLParser):
    """Every start tag and attribute of a fragment, to prove what is markup and what is text."""

    def __init__(self, fragment: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(fragment)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


# --- the quoted passage -------------------------------------------------------------------------
def test_passage_is_the_blank_line_block_around_the_quote():
    quote = TRD_QUOTE
    start = TEXT.index(quote)
    before, quoted, after = passage(TEXT, start, start + len(quote))
    assert quoted == quote
    assert before.startswith("Treatment-resistant depression (TRD) is defined as")
    assert after.strip().endswith("highlighting the need for alternative therapies.")
    assert "\n\n" not in before + after and "https://" not in after  # stops at the blank lines


def test_a_long_block_is_cut_to_the_line_that_holds_the_quote():
    quote = "Ketamine acts primarily as an N-methyl-D-aspartate (NMDA) receptor antagonist"
    start = TEXT.index(quote)
    before, quoted, after = passage(TEXT, start, start + len(quote), max_chars=400)
    assert quoted == quote
    assert before.strip() == "2. Mechanism of Action:"
    assert "Rapid Onset" not in before and "Sustained Effects" not in after
    assert len(before) + len(quoted) + len(after) <= 400


def test_passage_at_the_edges_of_the_text():
    text = "First sentence here. Second one."
    assert passage(text, 0, 20) == ("", "First sentence here.", " Second one.")
    assert passage(text, 21, len(text)) == ("First sentence here. ", "Second one.", "")


def test_the_quote_is_highlighted_inside_its_paragraph():
    doc = _doc()
    quote = TRD_QUOTE
    answer = Answer("TRD raises the risk of suicide [1].", "answered", [_cite(doc, quote)])
    out = render_answer(answer, {doc.doc_id: doc}, uid="u1")
    passage_html = re.search(r'<blockquote class="source-passage">(.*?)</blockquote>', out).group(1)
    before, marked, after = re.match(r"(.*)<mark>(.*)</mark>(.*)", passage_html).groups()
    assert marked == quote
    assert "Treatment-resistant depression (TRD) is defined" in before
    assert "highlighting the need for alternative therapies." in after
    assert 'id="src-u1-1"' in out and "Ketamine &amp; Psychedelic Therapies" in out


def test_a_stale_offset_falls_back_to_the_quote_alone():
    doc = _doc()
    cite = Citation(1, doc.doc_id, doc.title, "A quote that is not at these offsets.", 0, 37, doc.url)
    out = render_answer(Answer("Claim [1].", "answered", [cite]), {doc.doc_id: doc}, uid="x")
    assert "<mark>A quote that is not at these offsets.</mark></blockquote>" in out


# --- links to the article -----------------------------------------------------------------------
def test_short_quote_links_with_an_exact_text_fragment():
    url = text_fragment_url("https://clinic.example/a/#top", "N-methyl-D-aspartate, rapid & safe?")
    assert url == "https://clinic.example/a/#:~:text=N%2Dmethyl%2DD%2Daspartate%2C%20rapid%20%26%20safe%3F"
    assert unquote(url.split("text=")[1]) == "N-methyl-D-aspartate, rapid & safe?"


def test_fragment_normalises_whitespace_and_encodes_unicode():
    url = text_fragment_url("https://clinic.example/a", "the active compound in\u00a0“magic\n  mushrooms,”")
    term = url.split("#:~:text=")[1]
    assert unquote(term) == "the active compound in “magic mushrooms,”"
    assert " " not in url and "“" not in url and "," not in term


def test_long_quote_links_with_text_start_and_end():
    quote = ("Ketamine acts primarily as an N-methyl-D-aspartate (NMDA) receptor antagonist, leading to increased "
             "synaptic plasticity and the formation of new neural connections in the brain.")
    url = text_fragment_url("https://clinic.example/a", quote)
    start, end = url.split("#:~:text=")[1].split(",")
    assert unquote(start) == "Ketamine acts primarily as an"
    assert unquote(end) == "neural connections in the brain."


def test_article_url_falls_back_to_the_base_url():
    assert article_url("doc-1", "https://own.example/x") == "https://own.example/x"
    assert article_url("doc 1", None, "https://clinic.example/articles/") == "https://clinic.example/articles/doc%201"
    assert article_url("doc-1", None, None) is None


def test_source_link_opens_the_passage_in_a_new_tab():
    doc = _doc()
    answer = Answer("It works fast [1].", "answered", [_cite(doc, "Rapid Onset of Action")])
    out = render_answer(answer, {doc.doc_id: doc}, uid="u")
    links = [a for tag, a in _Tags(out).tags if tag == "a" and "cite" not in a.get("class", "")]
    assert len(links) == 1
    assert links[0]["href"] == "https://clinic.example/ketamine/#:~:text=Rapid%20Onset%20of%20Action"
    assert links[0]["target"] == "_blank" and "noopener" in links[0]["rel"]


def test_no_link_without_any_url():
    doc = _doc(url=None)
    out = render_answer(Answer("x [1].", "answered", [_cite(doc, "Rapid Onset of Action")]), {doc.doc_id: doc})
    assert "source-link" not in out
    with_base = render_answer(Answer("x [1].", "answered", [_cite(doc, "Rapid Onset of Action")]),
                              {doc.doc_id: doc}, base_url="https://clinic.example/articles")
    assert 'href="https://clinic.example/articles/ketamine#:~:text=Rapid%20Onset%20of%20Action"' in with_base


# --- escaping -----------------------------------------------------------------------------------
def test_user_text_is_shown_as_text_never_as_markup():
    out = render_user(f"{XSS} what is *ketamine*?\n\nsecond line")
    parsed = _Tags(out)
    assert [t for t, _ in parsed.tags] == ["div", "br", "br"]  # only our own wrapper and line breaks
    assert XSS in "".join(parsed.text)


def test_model_and_document_text_are_escaped():
    doc = Document("d", f"Title {XSS}", f"Intro.\n\nA quote {XSS} here.\n\nEnd.", "https://x.example/?a=1&b=\"><img/src=x/onerror=alert(1)>")
    quote = f"A quote {XSS} here."
    answer = Answer(f"Claim {XSS} [1].", "answered", [_cite(doc, quote)], notice=f"Note {XSS}")
    out = render_answer(answer, {doc.doc_id: doc}, uid="u")
    parsed = _Tags(out)
    assert "img" not in [t for t, _ in parsed.tags]
    assert all("onerror" not in attrs for _, attrs in parsed.tags)
    assert "".join(parsed.text).count(XSS) == 5  # answer, notice, title (twice: heading, link), quote
    link = next(a for t, a in parsed.tags if t == "a" and "target" in a)
    assert set(link) == {"href", "target", "rel"}  # the URL's quote did not break out of the attribute
    assert link["href"].startswith(doc.url + "#:~:text=A%20quote%20%3Cimg")


def test_only_web_addresses_become_links():
    assert article_url("d", "javascript:alert(1)") is None
    assert article_url("d", None, "javascript:alert(1)//") is None
    assert article_url("d", "HTTPS://clinic.example/a") == "HTTPS://clinic.example/a"


def test_streamed_text_is_escaped_too():
    assert "<img" not in render_pending(f"Partial {XSS}") and "&lt;img" in render_pending(f"Partial {XSS}")


def test_markers_link_only_to_sources_that_exist():
    out = render_text("One [1]. Two [2].", uid="u", known={1})
    assert out.count('class="cite"') == 1 and 'href="#src-u-1"' in out and "Two [2]." in out


# --- statuses -----------------------------------------------------------------------------------
@pytest.mark.parametrize("status,label", [
    ("not_found", "Not covered by the clinic's articles"),
    ("declined", "Outside what this assistant can help with"),
    ("crisis", "Please reach out for help now"),
])
def test_each_status_has_its_class_and_label(status, label):
    out = render_answer(Answer("Text.\n\n- line one\n- line two", status))
    first = _Tags(out).tags[0]
    assert first[0] == "div" and first[1]["class"] == f"reply reply--{status}"
    assert label in out and "<ul><li>line one</li><li>line two</li></ul>" in out
    assert ('role="alert"' in out) == (status == "crisis")


def test_answered_has_no_label_and_shows_the_crisis_footer_notice():
    footer = "If you are thinking about suicide, please reach out now:\n- US: call or text 988"
    out = render_answer(Answer("An answer.", "answered", notice=footer), crisis_footer=footer)
    assert 'class="reply reply--answered"' in out and "reply-label" not in out
    assert 'class="notice notice--support"' in out and "<li>US: call or text 988</li>" in out
    fallback = render_answer(Answer("Quoted.", "answered", notice="The assistant could not write a reply."))
    assert 'class="notice"' in fallback


def test_plain_reply_lists_sources_for_api_clients():
    doc = _doc()
    answer = Answer("Fast [1].", "answered", [_cite(doc, "Rapid Onset of Action")], notice="Footer.")
    text = plain_reply(answer)
    assert text.startswith("Fast [1].\n\nFooter.\n\nSources:\n[1] Ketamine & Psychedelic Therapies: “Rapid Onset")
    assert text.endswith("https://clinic.example/ketamine/")


# --- privacy ------------------------------------------------------------------------------------
def test_feedback_is_not_stored_without_a_file(tmp_path):
    store = FeedbackStore(None)
    assert not store.enabled and "not stored" in store.note
    assert store.record("How fast is it?", "up") is False
    assert list(tmp_path.iterdir()) == []


def test_feedback_keeps_only_counts_and_the_question(tmp_path):
    path = tmp_path / "fb" / "feedback.json"
    store = FeedbackStore(path)
    assert store.enabled and "only a count" in store.note
    store.record("How fast  is it?", "up")
    store.record("How fast is it?", "up")
    store.record("Is it safe?", "down")
    data = json.loads(path.read_text())
    assert data == {"totals": {"up": 2, "down": 1},
                    "questions": {"How fast is it?": {"up": 2, "down": 0}, "Is it safe?": {"up": 0, "down": 1}}}
    with pytest.raises(ValueError):
        store.record("x", "meh")


def test_logged_failures_leave_out_the_message_unless_content_logging_is_on(caplog):
    said = "I feel " + "awful"
    try:
        raise ValueError(f"patient wrote: {said}")
    except ValueError as exc:
        with caplog.at_level(logging.ERROR):
            log_failure(logging.getLogger("t"), "answer", exc)
            assert "ValueError" in caplog.text and "I feel awful" not in caplog.text
            log_failure(logging.getLogger("t"), "answer", exc, log_content=True)
            assert "I feel awful" in caplog.text


# --- one turn through a real pipeline (fake models) -------------------------------------------
def test_converse_streams_then_keeps_the_plain_answer(settings, store, embedder):
    gen = ScriptedGenerator("Ketamine has been shown to induce rapid and robust antidepressant effects within "
                            "hours to days of administration [1]. Traditional antidepressants may take weeks to "
                            "months to produce therapeutic effects [1].")
    steps = list(converse(Pipeline(settings, store, embedder, gen), "How quickly does ketamine work?", []))
    assert "Checking the clinic's articles" in steps[0][0]
    assert any("rapid and robust" in html and "reply--pending" in html for html, _ in steps[1:-1])
    html, entry = steps[-1]
    assert "reply--answered" in html and "<mark>" in html
    assert entry["text"].startswith("Ketamine has been shown") and entry["status"] == "answered"
    assert entry["question"] == "How quickly does ketamine work?"


def test_converse_passes_history_and_turns_errors_into_friendly_replies(settings, store, embedder):
    class Recorder(Pipeline):
        seen: list = []

        def stream(self, question, history=None):
            Recorder.seen.append(history)
            if question == "boom":
                def broken():
                    yield from ()
                    raise RuntimeError("details for the log only")
                return broken()
            if not question.strip():
                raise InputError("question is empty; type a question")
            return super().stream(question, history)

    pipeline = Recorder(settings, store, embedder, None)
    conversation = [{"role": "user", "text": "Tell me about ketamine"},
                    {"role": "assistant", "text": "Ketamine is an anesthetic [1].", "status": "answered"},
                    {"role": "user", "text": "??"},
                    {"role": "assistant", "text": FRIENDLY_ERROR, "error": True}]
    *_, (html, entry) = converse(pipeline, "boom", conversation)
    assert "reply--error" in html and FRIENDLY_ERROR in html and "details for the log" not in html
    assert entry["error"] and Recorder.seen[-1] == history_for(conversation) == [
        {"role": "user", "content": "Tell me about ketamine"},
        {"role": "assistant", "content": "Ketamine is an anesthetic [1]."},
        {"role": "user", "content": "??"}]
    *_, (html, entry) = converse(pipeline, "  ", [])
    assert "Question is empty" in html and entry["error"]


@pytest.mark.parametrize("question", EXAMPLES)
def test_every_example_question_is_answered_from_the_article(settings, store, embedder, question):
    answer = Pipeline(settings, store, embedder, None).ask(question)
    assert answer.status == "answered" and answer.citations
