"""The chat page in real headless Chromium (Playwright), against the app served on a free port
with the hashing embedder and a scripted generator: fast and deterministic.

Screenshots go to test-artifacts/ (desktop 1280x900, phone 390x844) for people to look at.
Skips only when /usr/bin/chromium is missing (`make browser-deps` installs it; CI does).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_api import GRADIO_QUEUE_WARNINGS, build_env, make_app, serve

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run"]
XSS = "<img src=x onerror=alert(1)>"
TWO_SENTENCES = ("Ketamine has been shown to induce rapid and robust antidepressant effects within hours to days of "
                 "administration [1]. Traditional antidepressants may take weeks to months to produce therapeutic "
                 "effects [1].")

pytestmark = [
    *GRADIO_QUEUE_WARNINGS,
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium (run `make browser-deps`)"),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The app on a real socket; the generator pauses between words so streaming is visible."""
    from tests.fakes import ScriptedGenerator

    built = build_env(tmp_path_factory.mktemp("browser"))
    feedback = tmp_path_factory.mktemp("feedback") / "feedback.json"
    app = make_app(built, ScriptedGenerator(TWO_SENTENCES, stall_s=0.04), feedback_file=feedback)
    with serve(app) as url:
        yield url, feedback


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield b
        b.close()


class Watched:
    """A page with its dialogs, requests and console errors recorded."""

    def __init__(self, browser, url: str, width: int, height: int):
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.set_default_timeout(20_000)
        self.page.goto(url)
        self.page.wait_for_selector("#question textarea")

    def replies(self):
        return self.page.locator("#chat .reply:not(.reply--pending)")

    def ask(self, question: str, watch_stream: bool = False):
        """Type a question, press Enter, wait for the finished reply; returns that reply."""
        page = self.page
        before = self.replies().count()
        box = page.get_by_label("Your question")
        box.fill(question)
        box.press("Enter")
        if watch_stream:  # the first checked sentence shows while the second is still being written
            page.wait_for_function("""() => [...document.querySelectorAll('#chat .reply--pending')]
                                       .some(el => el.textContent.includes('rapid and robust'))""", polling="raf")
        page.wait_for_function(f"document.querySelectorAll('#chat .reply:not(.reply--pending)').length > {before}")
        return self.replies().nth(before)

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path))
        return path

    def close(self):
        self.context.close()


def test_desktop_chat_streams_cites_and_escapes(site, browser):
    url, feedback = site
    w = Watched(browser, url, 1280, 900)
    page = w.page
    try:
        # The note that this is information, not advice, is on screen from the start, with examples.
        note = page.locator(".disclaimer")
        assert note.is_visible() and "not medical advice" in note.inner_text()
        assert "psychiatristdrakhildhanda.com" in note.inner_text()
        assert page.get_by_text("How quickly does ketamine work for depression?").is_visible()
        assert "not stored" not in page.locator("#feedback-note").inner_text()  # storage is on in this test
        w.shot("desktop-start.png")

        # An article question: streamed, then answered with a [1] that opens the highlighted quote.
        reply = w.ask("How quickly does ketamine work for depression?", watch_stream=True)
        assert "reply--answered" in reply.get_attribute("class")
        assert "rapid and robust antidepressant effects" in reply.locator(".reply-text").inner_text()
        source = reply.locator("li.source").first
        assert not source.is_visible()  # the sources panel starts closed
        reply.locator("a.cite").first.click()
        assert source.is_visible()
        assert page.evaluate("document.activeElement.id") == source.get_attribute("id")
        page.wait_for_timeout(600)
        mark = source.locator("mark")
        assert mark.inner_text().startswith("Rapid Onset of Action: Unlike traditional antidepressants")
        assert "within hours to days of administration." in mark.inner_text()
        assert "Ketamine And Psychedelic Therapies" in source.locator(".source-title").inner_text()
        link = source.get_by_role("link", name="Read this passage in the article")
        href = link.get_attribute("href")
        assert href.startswith("https://psychiatristdrakhildhanda.com/ketamine-and-psychedelic-therapies")
        assert "#:~:text=Rapid%20Onset%20of%20Action" in href and link.get_attribute("target") == "_blank"
        w.shot("desktop-answer.png")

        # Thumbs up: kept as a count with the question text, nothing else.
        like = page.locator("#chat").get_by_role("button", name="Like", exact=True).last
        assert "only a count and the question text" in like.get_attribute("title")
        like.click()
        for _ in range(50):
            if feedback.exists():
                break
            page.wait_for_timeout(100)
        assert json.loads(feedback.read_text()) == {
            "totals": {"up": 1, "down": 0},
            "questions": {"How quickly does ketamine work for depression?": {"up": 1, "down": 0}}}

        # A question the articles do not cover.
        reply = w.ask("How much does ketamine cost?")
        assert "reply--not_found" in reply.get_attribute("class")
        text = reply.inner_text()
        assert "articles don't cover this" in text and "psychiatristdrakhildhanda.com" in text

        # Markup in a question is shown as text; nothing runs.
        w.ask(f"{XSS} What is ketamine?")
        assert page.locator("#chat .question").last.inner_text() == f"{XSS} What is ketamine?"
        assert page.locator("#chat img[src='x']").count() == 0
        page.wait_for_timeout(300)
        assert w.dialogs == []

        # A crisis message gets the scripted reply, styled to stand out.
        reply = w.ask("I want to end my life")
        assert "reply--crisis" in reply.get_attribute("class") and reply.get_attribute("role") == "alert"
        assert "988" in reply.inner_text() and "Please reach out for help now" in reply.inner_text()
        bubble = reply.locator("xpath=ancestor::div[contains(@class, 'message')][contains(@class, 'bot')][1]")
        assert bubble.evaluate("el => getComputedStyle(el).borderLeftWidth") == "7px"
        assert bubble.evaluate("el => getComputedStyle(el).borderLeftColor") == "rgb(185, 28, 28)"
        w.shot("desktop-crisis.png")

        # Clear chat empties the conversation and brings the examples back.
        page.get_by_role("button", name="Clear chat").click()
        page.wait_for_function("document.querySelectorAll('#chat .reply, #chat .question').length === 0")
        assert page.get_by_text("What is treatment-resistant depression?").is_visible()

        # Everything the page loaded came from this server: no fonts, scripts or trackers elsewhere.
        assert [r for r in w.requests if not r.startswith(url) and not r.startswith("data:")] == []
        assert w.errors == []
    finally:
        w.close()


def test_phone_width_example_follow_up_and_keyboard(site, browser):
    url, _ = site
    w = Watched(browser, url, 390, 844)
    page = w.page
    try:
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
        for selector in (".disclaimer", "#question textarea", "#ask"):
            box = page.locator(selector).bounding_box()
            assert box and box["y"] + box["height"] <= 844, f"{selector} is below the fold"
        w.shot("phone-start.png")

        # An example question runs when tapped.
        before = w.replies().count()
        page.get_by_text("What is treatment-resistant depression?").click()
        page.wait_for_function(f"document.querySelectorAll('#chat .reply:not(.reply--pending)').length > {before}")
        first = w.replies().last
        assert "reply--answered" in first.get_attribute("class")
        assert "Treatment-resistant depression" in first.inner_text()

        # A follow-up, typed and sent from the keyboard only.
        page.get_by_label("Your question").focus()
        page.keyboard.type("How is it defined?")
        page.keyboard.press("Enter")
        page.wait_for_function("document.querySelectorAll('#chat .reply:not(.reply--pending)').length > 1")
        # The [1] marker is reachable and opens its source with Enter.
        cite = w.replies().last.locator("a.cite").first
        cite.focus()
        page.keyboard.press("Enter")
        source = w.replies().last.locator("li.source").first
        assert source.is_visible() and source.locator("mark").inner_text()
        # Messages are announced by their text, not by the HTML Gradio would put in their label.
        labels = page.eval_on_selector_all('#chat [data-testid="bot"]',
                                           "els => els.map(e => e.getAttribute('aria-label'))")
        assert labels and all(label and "<" not in label for label in labels)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.wait_for_timeout(600)  # Gradio's autoscroll has had its turn: the source stays in view
        offset = source.evaluate("el => el.getBoundingClientRect().top"
                                 " - el.closest('.bubble-wrap').getBoundingClientRect().top")
        assert 0 <= offset < 40
        w.shot("phone-answer.png")
        assert w.dialogs == [] and w.errors == []
    finally:
        w.close()
