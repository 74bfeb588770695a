"""The Gradio chat: streamed, grounded answers with their sources listed under each reply."""

from __future__ import annotations

import html
import logging

from .errors import InputError
from .types import Answer

log = logging.getLogger("rag.chat")

EXAMPLES = [
    "How quickly does ketamine work for depression?",
    "What is treatment-resistant depression?",
    "Is ketamine safe?",
    "What are magic mushrooms being studied for?",
    "How can I contact the clinic?",
]
STATUS_LABEL = {"not_found": "Not covered by the clinic's articles", "declined": "Outside what I can help with",
                "crisis": "Please reach out for help now"}


def render(answer: Answer, partial: str | None = None) -> str:
    """Markdown for one reply: the answer, then each citation with its verbatim quote."""
    body = partial if partial is not None else answer.answer
    lines = []
    if answer and answer.status in STATUS_LABEL:
        lines.append(f"**{STATUS_LABEL[answer.status]}**\n")
    lines.append(html.escape(body, quote=False))
    if answer and answer.citations:
        lines.append("\n**Sources**")
        for c in answer.citations:
            title = html.escape(c.title, quote=False)
            link = f"[{title}]({c.url})" if c.url else title
            lines.append(f"\n[{c.n}] {link}\n> {html.escape(c.quote, quote=False)}")
    if answer and answer.notice:
        lines.append(f"\n_{html.escape(answer.notice, quote=False)}_")
    return "\n".join(lines)


def build_chat(get_pipeline, disclaimer: str):
    import gradio as gr

    def respond(message: str, history: list[dict]):
        pipeline = get_pipeline()
        turns = [{"role": t["role"], "content": t["content"] if isinstance(t["content"], str) else ""}
                 for t in history or [] if t.get("role") in ("user", "assistant")]
        try:
            events = pipeline.stream(message, turns)
            text = ""
            for event in events:
                if event.kind == "token":
                    text += event.data
                    yield html.escape(text, quote=False)
                elif event.kind == "done":
                    yield render(event.data)
        except InputError as exc:
            yield f"⚠️ {exc}"
        except Exception:
            log.exception("chat answer failed")
            yield "Sorry, something went wrong on our side. Please try again, or contact the clinic."

    with gr.Blocks(title="Clinic Q&A assistant", analytics_enabled=False) as demo:
        gr.Markdown("## Ask about the clinic's articles\nAnswers come only from the clinic's published "
                    "articles, and every answer quotes its source.")
        gr.ChatInterface(
            respond, examples=EXAMPLES, run_examples_on_click=True, cache_examples=False,
            chatbot=gr.Chatbot(height=460, label="Clinic assistant", sanitize_html=True),
            textbox=gr.Textbox(placeholder="Type a question about ketamine or psychedelic therapies…",
                               max_lines=4, label="Your question"),
            flagging_mode="never", save_history=False, api_name="chat", fill_height=False,
        )
        gr.Markdown(f"<small>{html.escape(disclaimer)}</small>")
    return demo
