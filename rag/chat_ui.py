"""The Gradio chat: streamed, grounded answers whose ``[n]`` markers open the reply's sources.

Each source shows the quoted sentence highlighted inside its paragraph, the article title and
a link that opens the article on the clinic's site scrolled to the quote (a URL text fragment).

Rendering is a set of pure functions (unit-tested without Gradio); ``build_chat`` wires them to
Gradio. The chat displays HTML that this module writes, so every piece of text that comes from
a patient, a document or the model is HTML-escaped here: nothing else may become markup.
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
import tempfile
import threading
import traceback
import uuid
from collections.abc import Iterator, Mapping
from contextlib import nullcontext
from pathlib import Path
from urllib.parse import quote as _percent

from .errors import InputError
from .types import SMALL_TALK, Answer, Citation

log = logging.getLogger("rag.chat")
WEB_DIR = Path(__file__).resolve().parent / "web"

# Each of these is answered from the first article (checked by tests/test_chat_ui.py).
EXAMPLES = [
    "How quickly does ketamine work for depression?",
    "What is treatment-resistant depression?",
    "How does ketamine act in the brain?",
    "What are magic mushrooms being studied for?",
    "What are the challenges of psychedelic therapies?",
]
STATUS_LABEL = {
    "not_found": "Not covered by the clinic's articles",
    "declined": "Outside what this assistant can help with",
    "crisis": "Please reach out for help now",
    "error": "Something went wrong",
}
MODE_LABEL = {"quoted": "In the article's words"}  # an answered reply that quotes rather than the model's wording
FRIENDLY_ERROR = "Sorry, something went wrong on our side. Please try again in a moment, or contact the clinic."
BUSY = "The assistant is busy right now. Please try again in a minute."
PASSAGE_MAX_CHARS = 700  # longer paragraphs are cut to the lines around the quote
EXACT_FRAGMENT_MAX = 80  # longer quotes are linked as textStart,textEnd
_MARKER = re.compile(r"\[(\d{1,3})\]")
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
_WEB = re.compile(r"https?://[^\s]+$", re.IGNORECASE)


# --- links ----------------------------------------------------------------------------------
def article_url(doc_id: str, url: str | None, base_url: str | None = None) -> str | None:
    """The article's address: its own URL, else ``base_url`` + doc id, else None.

    Only http(s) addresses count: anything else (``javascript:``) must never become a link.
    """
    if url and _WEB.match(url):
        return url
    if base_url and _WEB.match(base_url):
        return base_url.rstrip("/") + "/" + _percent(doc_id, safe="")
    return None


def _fragment_term(text: str) -> str:
    # Text-directive terms percent-encode everything but unreserved characters, and "-" too
    # (it marks prefix-/-suffix), "," (separates textStart,textEnd) and "&" (separates directives).
    return _percent(text, safe="").replace("-", "%2D")


def text_fragment_url(url: str, quote: str, max_exact: int = EXACT_FRAGMENT_MAX, words: int = 5) -> str:
    """``url#:~:text=...``: opening it scrolls the article to ``quote`` and highlights it.

    Short quotes are matched exactly; long ones (or ones spanning lines, which an exact match
    cannot cross) as ``textStart,textEnd`` made of their first and last few words.
    """
    base = url.split("#", 1)[0]
    tokens = quote.split()  # also splits on no-break spaces: pages and cleaned text differ there
    if not tokens:
        return base
    single = " ".join(tokens)
    if (len(single) <= max_exact and "\n" not in quote.strip()) or len(tokens) <= 2 * words:
        return f"{base}#:~:text={_fragment_term(single)}"
    start, end = " ".join(tokens[:words]), " ".join(tokens[-words:])
    return f"{base}#:~:text={_fragment_term(start)},{_fragment_term(end)}"


# --- the quoted passage -----------------------------------------------------------------------
def passage(text: str, start: int, end: int, max_chars: int = PASSAGE_MAX_CHARS) -> tuple[str, str, str]:
    """(before, quote, after): the blank-line-separated block around ``text[start:end]``.

    A block longer than ``max_chars`` (a long list is one block) is cut to the lines that hold
    the quote, and if still too long, to whole words around it, with "…" where text was cut.
    """
    start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
    block_start = 0
    for m in _BLANK_LINE.finditer(text, 0, start):
        block_start = m.end()
    m = _BLANK_LINE.search(text, end)
    block_end = m.start() if m else len(text)
    before, after = text[block_start:start], text[end:block_end]
    if len(before) + (end - start) + len(after) > max_chars:
        line_start = before.rfind("\n") + 1
        line_end = after.find("\n")
        before = before[line_start:]
        after = after if line_end < 0 else after[:line_end]
        room = max(0, max_chars - (end - start))
        if len(before) > room // 2:
            cut = before[-(room // 2):]
            before = "…" + (cut.split(" ", 1)[1] if " " in cut else cut)
        if len(after) > room // 2:
            cut = after[: room // 2]
            after = (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "…"
    return before.lstrip(), text[start:end], after.rstrip()


def _inline(text: str) -> str:
    """Escaped text with its own line breaks kept and indentation dropped."""
    text = re.sub(r"[ \t]*\n[ \t\r]*", "\n", text)
    text = re.sub(r"[ \t]{2,}", " ", text)
    return html.escape(text).replace("\n", "<br>")


# --- replies --------------------------------------------------------------------------------
def _cite_links(escaped: str, uid: str | None, known: set[int]) -> str:
    """``[n]`` (already escaped text) ▶ a link to source n of this reply, when it has one."""

    def link(m: re.Match) -> str:
        n = int(m.group(1))
        if uid is None or n not in known:
            return m.group(0)
        return (f'<a class="cite" href="#src-{uid}-{n}" title="Show source {n}">'
                f'<span class="sr-only">source </span>[{n}]</a>')

    return _MARKER.sub(link, escaped)


def render_text(text: str, uid: str | None = None, known: set[int] | frozenset = frozenset()) -> str:
    """Plain text ▶ HTML paragraphs; lines starting with "- " become a list; [n] become links."""
    out = []
    for block in re.split(r"\n\s*\n", text.strip()):
        runs: list[tuple[bool, list[str]]] = []  # (is a list, its lines), consecutive lines grouped
        for line in (ln.strip() for ln in block.splitlines()):
            if not line:
                continue
            item = line.startswith(("- ", "• ", "* "))
            escaped = _cite_links(html.escape(line[2:].strip() if item else line, quote=False), uid, set(known))
            if runs and runs[-1][0] == item:
                runs[-1][1].append(escaped)
            else:
                runs.append((item, [escaped]))
        for item, lines in runs:
            if item:
                out.append("<ul>" + "".join(f"<li>{x}</li>" for x in lines) + "</ul>")
            else:
                out.append("<p>" + "<br>".join(lines) + "</p>")
    return "".join(out)


def render_user(text: str) -> str:
    """A patient's message, shown exactly as typed (as text, never as markup)."""
    return '<div class="question">' + _inline(text.strip()) + "</div>"


def render_pending(text: str = "") -> str:
    """A reply still being written: the checked sentences so far, and a progress note."""
    body = render_text(text) if text.strip() else ""
    note = "Writing the answer…" if body else "Checking the clinic's articles…"
    return (f'<div class="reply reply--pending">{body}'
            f'<p class="typing"><span class="dots" aria-hidden="true"></span>{note}</p></div>')


def render_error(message: str) -> str:
    return (f'<div class="reply reply--error"><p class="reply-label">{STATUS_LABEL["error"]}</p>'
            f"{render_text(message)}</div>")


def _source_item(c: Citation, uid: str, documents: Mapping, base_url: str | None) -> str:
    doc = documents.get(c.doc_id)
    if doc is not None and doc.text[c.start:c.end] == c.quote:
        before, quoted, after = passage(doc.text, c.start, c.end)
    else:  # the index changed under us: the quote itself is still verbatim
        before, quoted, after = "", c.quote, ""
    url = article_url(c.doc_id, c.url or getattr(doc, "url", None), base_url)
    title = html.escape(c.title or c.doc_id)
    link = ""
    if url:
        href = html.escape(text_fragment_url(url, c.quote))
        link = (f'<p class="source-link"><a href="{href}" target="_blank" rel="noopener noreferrer">'
                f'Read this passage in the article<span class="sr-only"> “{title}” (opens in a new tab)</span>'
                f'<span aria-hidden="true"> ↗</span></a></p>')
    return (f'<li class="source" id="src-{uid}-{c.n}" tabindex="-1">'
            f'<p class="source-head"><span class="source-n">[{c.n}]</span> '
            f'<span class="source-title">{title}</span></p>'
            f'<blockquote class="source-passage">{_inline(before)}<mark>{_inline(quoted)}</mark>{_inline(after)}'
            f"</blockquote>{link}</li>")


def render_answer(answer: Answer, documents: Mapping | None = None, *, base_url: str | None = None,
                  uid: str | None = None, crisis_footer: str | None = None) -> str:
    """One finished reply: status label, the answer with [n] links, notice, and its sources.

    The wrapper carries ``reply--<status>`` so each status can be styled (crisis prominently).
    """
    uid = uid or uuid.uuid4().hex[:8]
    documents = documents or {}
    status = answer.status
    known = {c.n for c in answer.citations}
    role = ' role="alert"' if status == "crisis" else ""
    parts = [f'<div class="reply reply--{html.escape(status)}"{role}>']
    if status in STATUS_LABEL and answer.reason != SMALL_TALK:  # a welcome is no refusal
        parts.append(f'<p class="reply-label">{STATUS_LABEL[status]}</p>')
    elif status == "answered" and answer.mode in MODE_LABEL:
        parts.append(f'<p class="reply-label reply-label--mode">{MODE_LABEL[answer.mode]}</p>')
    parts.append(f'<div class="reply-text">{render_text(answer.answer, uid, known)}</div>')
    if answer.notice:
        support = crisis_footer is not None and answer.notice.strip() == crisis_footer.strip()
        kind = "notice notice--support" if support or "\n- " in answer.notice else "notice"
        parts.append(f'<div class="{kind}" role="note">{render_text(answer.notice)}</div>')
    if answer.citations:
        n = len(answer.citations)
        parts.append(f'<details class="sources"><summary>Sources ({n}): where this answer comes from</summary>'
                     '<ol class="source-list">')
        parts.extend(_source_item(c, uid, documents, base_url) for c in answer.citations)
        parts.append("</ol></details>")
    parts.append("</div>")
    return "".join(parts)


def plain_reply(answer: Answer, base_url: str | None = None) -> str:
    """The reply as plain text for API clients: answer, notice, then numbered sources."""
    parts = [answer.answer.strip()]
    if answer.notice:
        parts.append(answer.notice.strip())
    if answer.citations:
        lines = ["Sources:"]
        for c in answer.citations:
            url = article_url(c.doc_id, c.url, base_url)
            lines.append(f"[{c.n}] {c.title}: “{' '.join(c.quote.split())}”" + (f" {url}" if url else ""))
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


# --- privacy-aware logging and feedback -------------------------------------------------------
def log_failure(logger: logging.Logger, what: str, exc: BaseException, log_content: bool = False) -> None:
    """Where it failed goes to the log; the exception's message only with content logging on,
    because messages can quote what the patient wrote."""
    if log_content:
        logger.error("%s failed", what, exc_info=exc)
        return
    frames = "".join(traceback.format_tb(exc.__traceback__)[-6:])
    logger.error("%s failed: %s (message withheld; set CLINIC_LOG_CONTENT=true to log it)\n%s",
                 what, type(exc).__name__, frames.rstrip())


class FeedbackStore:
    """Thumbs up/down kept as counts per question text, nothing else (no answer, time, session).

    With no file configured nothing is stored at all.
    """

    def __init__(self, path: str | Path | None, max_question_chars: int = 1000):
        self.path = Path(path) if path else None
        self.max_question_chars = max_question_chars
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.path is not None

    @property
    def note(self) -> str:
        if self.enabled:
            return "Thumbs up/down: the clinic keeps only a count and the question text, nothing else."
        return "Thumbs up/down feedback is not stored (the clinic has turned storage off)."

    def read(self) -> dict:
        empty = {"totals": {"up": 0, "down": 0}, "questions": {}}
        if self.path is None or not self.path.exists():
            return empty
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            log.warning("feedback file %s unreadable; starting a new count", self.path)
            return empty
        return data if isinstance(data, dict) and "totals" in data and "questions" in data else empty

    def record(self, question: str, vote: str) -> bool:
        """Count one vote ("up" or "down") for ``question``; True if it was stored."""
        if vote not in ("up", "down"):
            raise ValueError("vote must be 'up' or 'down'")
        if self.path is None:
            return False
        question = " ".join(question.split())[: self.max_question_chars]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # The thread lock serves this process; the file lock, other app copies sharing the file.
        with self._lock, open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            import fcntl

            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self.read()
            data["totals"][vote] = data["totals"].get(vote, 0) + 1
            counts = data["questions"].setdefault(question, {"up": 0, "down": 0})
            counts[vote] = counts.get(vote, 0) + 1
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".feedback-", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, ensure_ascii=False, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
        return True


# --- one chat turn, without Gradio --------------------------------------------------------------
def history_for(conversation: list[dict]) -> list[dict]:
    """The turns the pipeline sees: plain text of questions and replies, errors left out."""
    return [{"role": e["role"], "content": e["text"]} for e in conversation
            if e.get("role") in ("user", "assistant") and not e.get("error") and e.get("text")]


def converse(pipeline, message: str, conversation: list[dict], *, gate=None,
             base_url: str | None = None) -> Iterator[tuple[str, dict | None]]:
    """Reply HTML as it grows; the last item also carries the conversation entry to keep."""
    settings = pipeline.settings
    footer = getattr(getattr(pipeline, "messages", None), "crisis_footer", None)
    yield render_pending(), None
    if gate is not None and gate.busy():
        yield render_error(BUSY), {"role": "assistant", "text": BUSY, "error": True}
        return
    try:
        events = pipeline.stream(message, history_for(conversation))
    except InputError as exc:
        text = str(exc)
        text = text[:1].upper() + text[1:] + "."
        yield render_error(text), {"role": "assistant", "text": text, "error": True}
        return
    text = ""
    try:
        with gate.slot() if gate is not None else nullcontext():
            for event in events:
                if event.kind == "token":
                    text += event.data
                    yield render_pending(text), None
                elif event.kind == "done":
                    answer: Answer = event.data
                    rendered = render_answer(answer, pipeline.store.documents, base_url=base_url,
                                             crisis_footer=footer)
                    yield rendered, {"role": "assistant", "text": answer.answer, "status": answer.status,
                                     "question": message}
                    return
    except Exception as exc:
        log_failure(log, "chat answer", exc, settings.log_content)
    yield render_error(FRIENDLY_ERROR), {"role": "assistant", "text": FRIENDLY_ERROR, "error": True}


# --- the Gradio app -----------------------------------------------------------------------------
def header_html(clinic_name: str) -> str:
    return ('<header class="clinic-header">'
            f'<p class="clinic-name">{html.escape(clinic_name)}</p>'
            "<h1>Questions about our articles</h1>"
            '<p class="clinic-sub">Answers come only from the clinic\'s published articles. Each sentence links to '
            "the passage it is taken from.</p></header>")


def disclaimer_html(disclaimer: str) -> str:
    return (f'<div class="disclaimer" role="note"><span class="disclaimer-icon" aria-hidden="true">i</span>'
            f"<p>{html.escape(' '.join(disclaimer.split()))}</p></div>")


def page_assets() -> dict:
    """Keyword arguments for ``gr.mount_gradio_app``: theme, styles and the small script."""
    import gradio as gr

    system_fonts = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"]
    theme = gr.themes.Default(primary_hue="teal", secondary_hue="slate", neutral_hue="slate",
                              font=system_fonts, font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
                              radius_size="md").set(
        button_primary_background_fill="*primary_700", button_primary_background_fill_hover="*primary_800",
        button_primary_text_color="white", button_primary_border_color="*primary_700",
        body_text_color="#1e293b", block_label_text_color="#475569")
    return {
        "theme": theme,
        "css_paths": [WEB_DIR / "chat.css"],
        "js": (WEB_DIR / "chat.js").read_text(encoding="utf-8"),
        "head": '<meta name="color-scheme" content="light">',
    }


def build_chat(get_pipeline, settings, *, gate=None, feedback: FeedbackStore | None = None):
    """The chat page. ``get_pipeline`` is called per request (the pipeline may load late)."""
    import gradio as gr

    feedback = feedback or FeedbackStore(settings.feedback_file, settings.max_question_chars)
    examples = list(settings.example_questions or EXAMPLES)
    base_url = settings.article_base_url
    max_entries = 4 * max(settings.max_history_turns, 1) + 40  # a long chat does not grow server memory forever
    first = get_pipeline()
    disclaimer = first.messages.disclaimer
    clinic_name = settings.clinic_name

    def view(conversation: list[dict]) -> list[dict]:
        return [{"role": e["role"], "content": e["html"]} for e in conversation]

    def respond(message: str, conversation: list[dict] | None):
        conversation = list(conversation or [])
        message = (message or "").replace("\x00", "")
        if not message.strip():
            yield gr.skip(), gr.skip(), gr.skip()
            return
        conversation.append({"role": "user", "text": message.strip(), "html": render_user(message)})
        history = conversation[:-1]
        shown = view(conversation)
        for rendered, entry in converse(get_pipeline(), message, history, gate=gate, base_url=base_url):
            if entry is None:
                yield "", shown + [{"role": "assistant", "content": rendered}], gr.skip()
            else:
                conversation.append({**entry, "html": rendered})
                conversation = conversation[-max_entries:]
                yield "", view(conversation), conversation

    def on_like(data: gr.LikeData, conversation: list[dict] | None):
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        conversation = conversation or []
        if not isinstance(index, int) or not 0 <= index < len(conversation):
            return
        entry = conversation[index]
        vote = {True: "up", False: "down"}.get(data.liked) if isinstance(data.liked, bool) else None
        if entry.get("role") != "assistant" or not entry.get("question") or vote is None:
            return
        stored = feedback.record(entry["question"], vote)
        log.info("feedback vote=%s status=%s stored=%s", vote, entry.get("status"), stored)

    def example_text(data: gr.SelectData) -> str:
        value = data.value
        return str(value.get("text") or "") if isinstance(value, dict) else str(value or "")

    # This module postpones annotations and imports gradio late: give Gradio the real classes,
    # which is how it knows to pass the event data.
    on_like.__annotations__["data"] = gr.LikeData
    example_text.__annotations__["data"] = gr.SelectData

    def api_chat(message: str, history: list[dict] | None = None) -> str:
        """Answer one question from the clinic's articles; returns the answer, then its sources."""
        pipeline = get_pipeline()
        try:
            turns = [{"role": t.get("role"), "text": t.get("content")} for t in history or []
                     if isinstance(t, dict)]
            if gate is not None and gate.busy():
                raise gr.Error(BUSY)
            with gate.slot() if gate is not None else nullcontext():
                answer = pipeline.ask(message, history_for(turns))
        except InputError as exc:
            raise gr.Error(str(exc)) from None
        except gr.Error:
            raise
        except Exception as exc:
            log_failure(log, "chat API answer", exc, settings.log_content)
            raise gr.Error(FRIENDLY_ERROR) from None
        return plain_reply(answer, base_url)

    api_chat.__annotations__.update({"message": str, "history": list[dict] | None, "return": str})

    with gr.Blocks(title=f"Questions about our articles · {clinic_name}", analytics_enabled=False,
                   fill_height=False) as demo:
        conversation = gr.State([])
        with gr.Column(elem_id="clinic-chat"):
            gr.HTML(header_html(clinic_name), elem_id="clinic-header")
            chatbot = gr.Chatbot(
                label="Conversation with the clinic's article assistant", show_label=False, elem_id="chat",
                height="min(62vh, 620px)", min_height=300, autoscroll=True,
                examples=[{"text": q} for q in examples],
                placeholder="<p class=\"chat-empty\">Ask a question about the clinic's articles, or start with one "
                            "of these:</p>",
                sanitize_html=True, allow_tags=False, render_markdown=True, latex_delimiters=[],
                feedback_options=("Like", "Dislike"), buttons=[], allow_file_downloads=False,
                group_consecutive_messages=False, layout="bubble",
            )
            with gr.Row(elem_id="ask-row", equal_height=True):
                textbox = gr.Textbox(label="Your question", show_label=False, elem_id="question",
                                     placeholder="Type your question…",
                                     max_lines=4, lines=1, max_length=settings.max_question_chars, scale=5,
                                     autofocus=False, submit_btn=False, container=False)
                send = gr.Button("Ask", variant="primary", elem_id="ask", scale=0, min_width=84)
            gr.HTML(disclaimer_html(disclaimer), elem_id="disclaimer")
            with gr.Row(elem_id="chat-tools"):
                clear = gr.Button("Clear chat", variant="secondary", size="sm", elem_id="clear", scale=0,
                                  min_width=110)
                gr.HTML(f'<p id="feedback-note" class="feedback-note">{html.escape(feedback.note)}</p>',
                        elem_id="feedback-note-wrap")

        answering = gr.on([textbox.submit, send.click], respond, [textbox, conversation],
                          [textbox, chatbot, conversation], trigger_mode="once", api_visibility="private",
                          concurrency_limit=settings.concurrency, concurrency_id="answer",
                          show_progress="minimal", show_progress_on=[chatbot])
        picked = chatbot.example_select(example_text, None, textbox, api_visibility="private", queue=False)
        example_answer = picked.then(respond, [textbox, conversation], [textbox, chatbot, conversation],
                                     api_visibility="private", concurrency_limit=settings.concurrency,
                                     concurrency_id="answer", show_progress="minimal", show_progress_on=[chatbot])
        clear.click(lambda: ([], [], ""), None, [chatbot, conversation, textbox], api_visibility="private",
                    cancels=[answering, example_answer], queue=False)
        chatbot.clear(lambda: [], None, conversation, api_visibility="private", cancels=[answering, example_answer],
                      queue=False)
        chatbot.like(on_like, [conversation], None, api_visibility="private", queue=False)
        gr.api(api_chat, api_name="chat", concurrency_limit=settings.concurrency, concurrency_id="answer")
    return demo
