"""The website widget in real headless Chromium: the example clinic page (examples/clinic-site),
served from another port than the app, embeds the assistant with its one tag.

Fake models (hashing embedder, scripted generator) keep it fast and deterministic. Screenshots
go to test-artifacts/ (desktop 1280x800, phone 390x844).
"""

from __future__ import annotations

import contextlib
import importlib.util
from pathlib import Path

import pytest

from tests.test_api import GRADIO_QUEUE_WARNINGS, build_env, make_app, serve
from tests.test_browser import ARTIFACTS, CHROMIUM, LAUNCH_ARGS, TWO_SENTENCES, XSS

ROOT = Path(__file__).resolve().parent.parent
WIDGET = "[data-clinic-assistant]"
ACCENT = "rgb(91, 63, 160)"  # the example page's data-color="#5b3fa0"

pytestmark = [
    *GRADIO_QUEUE_WARNINGS,
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium (run `make browser-deps`)"),
]


def _site_module():
    spec = importlib.util.spec_from_file_location("clinic_site", ROOT / "examples" / "clinic-site" / "serve.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def clinic_page():
    """The example page on a free port; point it at an app later with ``server.app_url``."""
    server, url = _site_module().serve_in_thread("http://invalid.example")
    try:
        yield server, url
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_env(tmp_path_factory.mktemp("widget"))


@pytest.fixture(scope="module")
def sites(built):
    """An app that lets the first example page embed it; the second page is not on its list."""
    from tests.fakes import ScriptedGenerator

    with clinic_page() as (allowed, allowed_url), clinic_page() as (other, other_url):
        app = make_app(built, ScriptedGenerator(TWO_SENTENCES, stall_s=0.04), embed_origins=[allowed_url])
        with serve(app) as app_url:
            allowed.app_url = other.app_url = app_url
            yield {"app": app_url, "allowed": allowed_url + "/", "other": other_url + "/"}


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield b
        b.close()


class HostPage:
    """The clinic's page with the widget, its dialogs, requests and errors recorded."""

    def __init__(self, browser, url: str, width: int, height: int):
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = page = self.context.new_page()
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.set_default_timeout(20_000)
        page.goto(url)
        self.launcher = page.locator(f"{WIDGET} .launcher")
        self.launcher.wait_for()

    @property
    def frame(self):
        return self.page.locator(f"{WIDGET} iframe").element_handle().content_frame()

    def open(self):
        self.launcher.click()
        self.page.locator(f"{WIDGET} .panel").wait_for()
        frame = self.frame
        frame.wait_for_selector("#question")
        return frame

    def ask(self, question: str, watch_stream: bool = False):
        """Type into the panel, press Enter, wait for the finished reply; returns it."""
        frame = self.frame
        before = frame.locator(".msg--bot:not(.msg--pending):not(.msg--greeting)").count()
        box = frame.get_by_label("Your question")
        box.fill(question)
        box.press("Enter")
        if watch_stream:  # the first checked sentence shows while the second is still being written
            frame.wait_for_function("""() => [...document.querySelectorAll('.msg--pending')]
                                        .some(el => el.textContent.includes('rapid and robust'))""", polling="raf")
        frame.wait_for_function("n => document.querySelectorAll("
                                "'.msg--bot:not(.msg--pending):not(.msg--greeting)').length > n", arg=before)
        return frame.locator(".msg--bot:not(.msg--pending):not(.msg--greeting)").nth(before)

    def launcher_has_focus(self) -> bool:
        return self.page.evaluate(f"""() => {{
            const host = document.querySelector('{WIDGET}');
            return document.activeElement === host && host.shadowRoot.activeElement.classList.contains('launcher');
        }}""")

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path))
        return path

    def close(self):
        self.context.close()


def test_clinic_page_widget_streams_cites_and_closes_with_escape(sites, browser):
    h = HostPage(browser, sites["allowed"], 1280, 800)
    page = h.page
    try:
        page.evaluate("window.__answers = []; document.addEventListener('clinic-assistant:answer', "
                      "e => window.__answers.push(e.detail))")
        # The page's own `button { all: unset; background: hotpink }` does not reach the launcher.
        assert h.launcher.evaluate("el => getComputedStyle(el).backgroundColor") == ACCENT
        assert h.launcher.get_attribute("aria-expanded") == "false"
        h.shot("widget-desktop-closed.png")

        # Keyboard only: Tab reaches the launcher (after the page's one link), Enter opens the panel
        # and puts the cursor in the question box.
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        assert h.launcher_has_focus()
        assert h.launcher.evaluate("el => getComputedStyle(el).outlineStyle") == "solid"  # focus is visible
        page.keyboard.press("Enter")
        frame = h.frame
        frame.wait_for_selector("#question")
        frame.wait_for_function("document.activeElement && document.activeElement.id === 'question'")
        assert h.launcher.get_attribute("aria-expanded") == "true"
        assert page.locator(f"{WIDGET} .panel").get_attribute("role") == "dialog"
        assert frame.locator(".panel-title").inner_text() == "Ask about our articles"
        assert "not medical advice" in frame.locator("#disclaimer").inner_text()
        assert frame.locator(".starter").count() == 2

        # The character counter follows the typing, up to the page's data-max-length.
        page.keyboard.type("abc")
        assert frame.locator("#counter").inner_text() == "3 / 500"
        assert frame.locator("#question").get_attribute("maxlength") == "500"

        # An article question: streamed, answered, with a citation chip that opens the quote.
        reply = h.ask("How quickly does ketamine work for depression?", watch_stream=True)
        assert "msg--answered" in reply.get_attribute("class")
        assert "rapid and robust antidepressant effects" in reply.inner_text()
        chip = reply.locator("button.chip").first
        assert chip.inner_text() == "1" and chip.get_attribute("aria-expanded") == "false"
        quote = reply.locator(".quote").first
        assert not quote.is_visible()
        chip.focus()
        page.keyboard.press("Enter")
        assert quote.is_visible() and chip.get_attribute("aria-expanded") == "true"
        assert "within hours to days of administration" in quote.locator(".quote-text").inner_text()
        assert "Ketamine And Psychedelic Therapies" in quote.locator(".quote-title").inner_text()
        link = quote.get_by_role("link")
        href = link.get_attribute("href")
        assert href.startswith("https://psychiatristdrakhildhanda.com/ketamine-and-psychedelic-therapies")
        assert "#:~:text=" in href and link.get_attribute("target") == "_blank"
        page.wait_for_function("window.__answers.length === 1")
        assert page.evaluate("window.__answers[0].status") == "answered"
        h.shot("widget-desktop-answer.png")

        # Statuses are styled apart: not covered, and a crisis.
        reply = h.ask("How much does ketamine cost?")
        assert "msg--not_found" in reply.get_attribute("class")
        assert reply.locator(".msg-label").text_content() == "Not covered by the clinic's articles"
        reply = h.ask("I want to end my life")
        assert "msg--crisis" in reply.get_attribute("class") and reply.get_attribute("role") == "alert"
        assert "988" in reply.inner_text()
        assert reply.evaluate("el => getComputedStyle(el).borderLeftColor") == "rgb(185, 28, 28)"
        h.shot("widget-desktop-crisis.png")

        # Markup in a question is shown as text; nothing runs.
        h.ask(f"{XSS} What is ketamine?")
        assert frame.locator(".msg--user").last.inner_text() == f"{XSS} What is ketamine?"
        assert frame.locator("img").count() == 0 and page.locator("img").count() == 0
        page.wait_for_timeout(300)
        assert h.dialogs == []

        # Esc closes the panel and gives focus back to the launcher.
        frame.locator("#question").focus()
        page.keyboard.press("Escape")
        page.locator(f"{WIDGET} .panel").wait_for(state="hidden")
        assert h.launcher_has_focus()
        assert h.launcher.get_attribute("aria-expanded") == "false"

        # Reopened: the conversation is still there; "new conversation" clears it.
        page.evaluate("window.ClinicAssistant.open()")
        assert frame.locator(".msg--user").count() == 4
        frame.get_by_role("button", name="Start a new conversation").click()
        assert frame.locator(".msg--user").count() == 0 and frame.locator(".starter").count() == 2

        # Nothing went anywhere but the clinic's page and the assistant; no cookies were set.
        assert [r for r in h.requests if not r.startswith((sites["allowed"], sites["app"]))] == []
        assert h.context.cookies() == []
        assert h.errors == []
    finally:
        h.close()


def test_phone_width_panel_fills_the_screen(sites, browser):
    h = HostPage(browser, sites["allowed"], 390, 844)
    page = h.page
    try:
        h.shot("widget-phone-closed.png")
        frame = h.open()
        box = page.locator(f"{WIDGET} .panel").bounding_box()
        assert box == {"x": 0, "y": 0, "width": 390, "height": 844}
        assert frame.evaluate("document.documentElement.scrollWidth") <= 390
        for selector in ("#question", "#send", "#disclaimer", "#close"):
            b = frame.locator(selector).bounding_box()
            assert b and 0 <= b["y"] and b["y"] + b["height"] <= 844, f"{selector} is off screen"
        h.shot("widget-phone-open.png")
        # Full screen, the panel is modal: Tab goes round inside it, never to the page behind.
        frame.wait_for_function("() => document.activeElement && document.activeElement.id === 'question'")
        for _ in range(12):
            page.keyboard.press("Tab")
            assert frame.evaluate("document.hasFocus() && document.activeElement !== document.body")
        frame.locator(".starter").first.click()
        frame.wait_for_selector(".msg--answered")
        frame.locator(".msg--answered button.chip").first.click()
        assert frame.locator(".msg--answered .quote").first.is_visible()
        h.shot("widget-phone-answer.png")
        # The panel's own close button (the launcher is covered on phones) returns focus too.
        frame.get_by_role("button", name="Close the chat").click()
        page.locator(f"{WIDGET} .panel").wait_for(state="hidden")
        assert h.launcher.is_visible() and h.launcher_has_focus()
        assert h.errors == [] and h.dialogs == []
    finally:
        h.close()


def test_reduced_motion_turns_off_transitions(sites, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, reduced_motion="reduce")
    try:
        page = context.new_page()
        page.goto(sites["allowed"])
        launcher = page.locator(f"{WIDGET} .launcher")
        assert launcher.evaluate("el => getComputedStyle(el).transitionDuration") == "0s"
    finally:
        context.close()


def test_tag_options_and_the_javascript_api(sites, browser):
    """The example page with every option on its tag (data-max-length above the server's limit)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(sites["allowed"] + "all-options.html")
        panel = page.locator(f"{WIDGET} .panel")
        panel.wait_for()  # data-open: open on load
        frame = page.locator(f"{WIDGET} iframe").element_handle().content_frame()
        frame.wait_for_selector("#question")
        assert frame.locator(".panel-title").inner_text() == "Ask <us>"
        assert frame.locator(".msg--greeting").inner_text() == "Hi <b>there</b>"
        assert frame.locator(".starter").all_inner_texts() == ["What is ketamine?"]
        assert frame.locator("#disclaimer").inner_text() == "Not advice."
        assert frame.locator("#question").get_attribute("placeholder") == "Your question here"
        assert frame.locator("#question").get_attribute("maxlength") == "1000"  # capped at the server's limit
        launcher = page.locator(f"{WIDGET} .launcher")
        assert launcher.bounding_box()["x"] < 100  # bottom-left

        page.evaluate("""window.__got = []; ClinicAssistant.on('answer', a => window.__got.push(a.status));""")
        frame.locator(".starter").click()
        page.wait_for_function("window.__got.length === 1")
        assert page.evaluate("window.__got") == ["answered"]
        assert page.locator("#last-answer").inner_text() == "Last answer: answered"  # the DOM event too
        page.get_by_role("button", name="Show or hide the assistant").click()
        assert not panel.is_visible() and page.evaluate("ClinicAssistant.isOpen()") is False
        # A colour that is not a colour is ignored; configure() reloads the panel with the new options.
        page.evaluate("ClinicAssistant.configure({color: 'url(javascript:alert(1))'})")
        launcher = page.locator(f"{WIDGET} .launcher")
        assert launcher.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(15, 118, 110)"
        page.evaluate("ClinicAssistant.configure({title: 'Questions?', position: 'bottom-right'}); "
                      "ClinicAssistant.open()")
        assert launcher.bounding_box()["x"] > 1000
        frame = page.locator(f"{WIDGET} iframe").element_handle().content_frame()
        frame.wait_for_selector("#question")
        assert frame.locator(".panel-title").inner_text() == "Questions?"
        assert dialogs == []
    finally:
        context.close()


def test_a_page_with_a_strict_content_security_policy(sites, browser):
    """Allowing the assistant in script-src and frame-src is all a strict site needs."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        console = []
        page.on("console", lambda m: console.append(m.text))
        page.goto(sites["allowed"] + "strict-csp.html")
        launcher = page.locator(f"{WIDGET} .launcher")
        launcher.wait_for()
        assert launcher.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(15, 118, 110)"
        assert page.locator(f"{WIDGET} .wrap").evaluate("el => getComputedStyle(el).position") == "fixed"
        launcher.click()
        frame = page.locator(f"{WIDGET} iframe").element_handle().content_frame()
        frame.wait_for_selector(".starter")
        frame.locator(".starter").first.click()
        frame.wait_for_selector(".msg--answered .chip")
        assert [m for m in console if "Content Security Policy" in m] == []
    finally:
        context.close()


def test_a_site_not_on_the_list_cannot_show_the_panel(sites, browser):
    h = HostPage(browser, sites["other"], 1280, 800)
    page = h.page
    try:
        h.launcher.click()
        note = page.locator(f"{WIDGET} .note")
        note.wait_for(state="visible", timeout=20_000)
        assert "could not be shown" in note.inner_text()
        frame = h.frame
        assert frame is None or frame.locator("#question").count() == 0
        assert not page.locator(f"{WIDGET} .panel").is_visible()
        h.shot("widget-desktop-blocked.png")
    finally:
        h.close()


def test_too_many_questions_get_a_friendly_wait(built, browser):
    from tests.fakes import ScriptedGenerator

    with clinic_page() as (site, site_url):
        app = make_app(built, ScriptedGenerator(TWO_SENTENCES), embed_origins=[site_url], rate_limit_per_minute=1)
        with serve(app) as app_url:
            site.app_url = app_url
            h = HostPage(browser, site_url + "/", 1280, 800)
            try:
                h.open()
                assert "msg--answered" in h.ask("How quickly does ketamine work for depression?").get_attribute("class")
                reply = h.ask("What is treatment-resistant depression?")
                assert "msg--wait" in reply.get_attribute("class")
                assert "Please wait about" in reply.inner_text()
                assert h.frame.locator("#send").is_enabled()
                # The question waits in the box, ready to send again.
                assert h.frame.locator("#question").input_value() == "What is treatment-resistant depression?"
                h.shot("widget-desktop-wait.png")
                assert h.errors == []
            finally:
                h.close()
