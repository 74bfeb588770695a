() => {
  // Small helpers for the clinic chat; Gradio renders the page, this only adds behaviour.
  // 1. A [n] marker opens its reply's sources and moves focus to source n.
  // 2. Messages get a readable accessible name (Gradio labels them with their raw HTML).
  // 3. The thumbs buttons say whether feedback is stored.
  if (window.__clinicChat) return;
  window.__clinicChat = true;

  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("a.cite");
    if (!link) return;
    const id = (link.getAttribute("href") || "").replace(/^#/, "");
    const target = id && document.getElementById(id);
    if (!target) return;
    event.preventDefault();
    event.stopPropagation();
    const details = target.closest("details");
    const wasClosed = details && !details.open;
    if (details) details.open = true;
    const show = () => target.scrollIntoView({ block: "start", behavior: "auto" });
    // Opening the panel grows the reply, and Gradio's autoscroll may answer that by jumping to
    // the bottom of the chat: show the source again once it has settled.
    show();
    if (wasClosed) [120, 400].forEach((ms) => setTimeout(show, ms));
    target.classList.remove("is-flashed");
    void target.offsetWidth;
    target.classList.add("is-flashed");
    target.focus({ preventScroll: true });
  }, true);

  const ROLE_NAMES = { user: "You asked", bot: "The assistant replied" };
  const fix = () => {
    document.querySelectorAll('#chat [data-testid="user"], #chat [data-testid="bot"]').forEach((el) => {
      const label = el.getAttribute("aria-label") || "";
      if (label && !label.includes("<") && !label.includes("&lt;")) return;
      const name = ROLE_NAMES[el.getAttribute("data-testid")];
      if (label !== name) el.setAttribute("aria-label", name);
    });
    const note = document.getElementById("feedback-note");
    if (note) {
      document.querySelectorAll('#chat button[aria-label="Like"], #chat button[aria-label="Dislike"], ' +
                                '#chat button[title="Like"], #chat button[title="Dislike"]').forEach((b) => {
        const what = (b.getAttribute("aria-label") || b.getAttribute("title") || "").split(" ")[0];
        const title = `${what === "Like" ? "Helpful" : "Not helpful"}. ${note.textContent}`;
        if (b.getAttribute("title") !== title) b.setAttribute("title", title);
      });
    }
  };
  new MutationObserver(fix).observe(document.body, { childList: true, subtree: true, attributes: true,
                                                       attributeFilter: ["aria-label"] });
  fix();
}
