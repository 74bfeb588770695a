/* The clinic assistant on any website, from one tag:
     <script src="https://ASSISTANT-HOST/widget.js" async data-title="Ask our articles"></script>
   It adds a launcher button; the chat itself is an iframe to ASSISTANT-HOST/widget, so the page's
   styles cannot reach it. No cookies, no other requests, no framework. Options come from data-*
   attributes or window.ClinicAssistantConfig; window.ClinicAssistant has open(), close(),
   toggle(), configure(options) and on("answer", fn). See the README: "Add the assistant to
   your website". */
(function () {
  "use strict";
  if (window.ClinicAssistant && window.ClinicAssistant.version) return; // the tag was pasted twice

  var script = document.currentScript ||
    Array.prototype.slice.call(document.querySelectorAll("script[src]")).filter(function (s) {
      return /\/widget\.js(\?|#|$)/.test(s.src);
    }).pop();
  if (!script) return;
  var panelUrl = new URL("widget", script.src);
  var appOrigin = panelUrl.origin;
  var PHONE = "(max-width: 480px)";
  var READY_TIMEOUT_MS = 8000;

  // --- options ------------------------------------------------------------------------------
  var NAMES = {
    title: "title", greeting: "greeting", color: "color", position: "position", starters: "starters",
    disclaimer: "disclaimer", open: "open", placeholder: "placeholder", maxLength: "maxLength"
  };

  function fromDataset(data) {
    var out = {};
    Object.keys(NAMES).forEach(function (key) {
      if (data[key] !== undefined) out[key] = data[key];
    });
    return out;
  }

  function tidy(raw) {
    var o = {};
    ["title", "greeting", "disclaimer", "placeholder"].forEach(function (k) {
      if (typeof raw[k] === "string" && raw[k].trim()) o[k] = raw[k].trim();
    });
    if (typeof raw.color === "string" && window.CSS && CSS.supports("color", raw.color)) o.color = raw.color.trim();
    o.position = raw.position === "bottom-left" ? "bottom-left" : "bottom-right";
    var starters = raw.starters;
    if (typeof starters === "string") {
      var text = starters.trim();
      try { starters = text.charAt(0) === "[" ? JSON.parse(text) : text.split("|"); } catch (e) { starters = []; }
    }
    if (Array.isArray(starters)) {
      o.starters = starters.filter(function (s) { return typeof s === "string" && s.trim(); })
        .map(function (s) { return s.trim(); }).slice(0, 6);
    }
    var max = parseInt(raw.maxLength, 10);
    if (max > 0) o.maxLength = max;
    o.open = raw.open === true || raw.open === "" || raw.open === "true" || raw.open === "open";
    return o;
  }

  var options = tidy(Object.assign({}, window.ClinicAssistantConfig || {}, fromDataset(script.dataset)));
  var listeners = { answer: [], open: [], close: [] };

  // --- the launcher and the panel frame, in a shadow root the page's CSS cannot reach ----------
  // A tag of its own, so the page's rules for div, span or button never match the widget's host.
  var host = document.createElement("clinic-assistant");
  host.setAttribute("data-clinic-assistant", "");
  var root = host.attachShadow({ mode: "open" });
  var css = [
    ":host { all: initial; display: block; }",
    ".wrap { --accent: #0f766e; position: fixed; z-index: 2147483000; bottom: 20px; right: 20px;",
    "  font: 15px/1.4 system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif; }",
    ".wrap.left { right: auto; left: 20px; }",
    ".launcher { display: flex; align-items: center; gap: 8px; min-height: 52px; padding: 0 18px 0 14px;",
    "  border: 0; border-radius: 26px; background: var(--accent); color: #fff; font: inherit; font-weight: 600;",
    "  cursor: pointer; box-shadow: 0 6px 20px rgba(15, 23, 42, .25); transition: transform .15s ease; }",
    ".launcher:hover { transform: translateY(-1px); }",
    ".launcher:focus-visible { outline: 3px solid #1e293b; outline-offset: 3px; }",
    ".launcher svg { width: 24px; height: 24px; flex: none; }",
    ".panel { position: absolute; bottom: 66px; right: 0; width: 380px; height: min(620px, calc(100vh - 110px));",
    "  border-radius: 14px; overflow: hidden; background: #fff; box-shadow: 0 12px 40px rgba(15, 23, 42, .3);",
    "  opacity: 0; transform: translateY(8px); transition: opacity .15s ease, transform .15s ease; }",
    ".wrap.left .panel { right: auto; left: 0; }",
    ".panel[hidden], .failed .panel { display: none; }",
    ".panel.shown { opacity: 1; transform: none; }",
    ".panel iframe { display: block; width: 100%; height: 100%; border: 0; }",
    ".note { position: absolute; bottom: 66px; right: 0; width: 260px; padding: 10px 12px; border-radius: 10px;",
    "  background: #fff; color: #1e293b; box-shadow: 0 6px 20px rgba(15, 23, 42, .25); }",
    ".wrap.left .note { right: auto; left: 0; }",
    "@media " + PHONE + " {",
    "  .panel { position: fixed; inset: 0; width: 100vw; height: 100vh; height: 100dvh; border-radius: 0; }",
    "  .wrap.is-open .launcher { display: none; }",
    "}",
    "@media (prefers-reduced-motion: reduce) { .launcher, .panel { transition: none; } }"
  ].join("\n");

  var wrap = document.createElement("div");
  wrap.className = "wrap";
  var launcher = document.createElement("button");
  launcher.type = "button";
  launcher.className = "launcher";
  launcher.setAttribute("aria-haspopup", "dialog");
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "clinic-assistant-panel");
  launcher.innerHTML = '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="currentColor" ' +
    'd="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm3 6a1.5 1.5 0 1 0 0 ' +
    '3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3z"/></svg>';
  var label = document.createElement("span");
  launcher.appendChild(label);
  var panel = document.createElement("div");
  panel.className = "panel";
  panel.id = "clinic-assistant-panel";
  panel.setAttribute("role", "dialog");
  panel.hidden = true;
  var note = document.createElement("p");
  note.className = "note";
  note.setAttribute("role", "status");
  note.hidden = true;
  wrap.appendChild(panel);
  wrap.appendChild(note);
  wrap.appendChild(launcher);
  // A constructed style sheet is not an inline <style>, so a page's strict style-src allows it.
  if (root.adoptedStyleSheets !== undefined && window.CSSStyleSheet && CSSStyleSheet.prototype.replaceSync) {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    root.adoptedStyleSheets = [sheet];
  } else {
    var style = document.createElement("style");
    style.textContent = css;
    root.appendChild(style);
  }
  root.appendChild(wrap);

  var frame = null;
  var ready = false;
  var readyTimer = null;
  var isOpen = false;

  function applyLook() {
    var title = options.title || "Questions about our articles";
    label.textContent = title;
    launcher.setAttribute("aria-label", "Open chat: " + title);
    panel.setAttribute("aria-label", title);
    wrap.classList.toggle("left", options.position === "bottom-left");
    if (options.color) wrap.style.setProperty("--accent", options.color);
  }

  function panelOptions() {
    var o = {};
    ["title", "greeting", "disclaimer", "placeholder", "starters", "maxLength", "color"].forEach(function (k) {
      if (options[k] !== undefined) o[k] = options[k];
    });
    o.parentOrigin = window.location.origin;
    return o;
  }

  function send(message) {
    if (frame && ready) frame.contentWindow.postMessage(message, appOrigin);
  }

  function makeFrame() {
    ready = false;
    if (frame) frame.remove();
    frame = document.createElement("iframe");
    frame.title = options.title || "Questions about our articles";
    frame.setAttribute("sandbox", "allow-scripts allow-same-origin allow-forms allow-popups " +
                                  "allow-popups-to-escape-sandbox");
    frame.setAttribute("referrerpolicy", "no-referrer");
    // Options travel in the fragment: the browser never sends it to the server.
    frame.src = panelUrl.href + "#" + encodeURIComponent(JSON.stringify(panelOptions()));
    panel.appendChild(frame);
    clearTimeout(readyTimer);
    readyTimer = setTimeout(function () {
      if (ready) return;
      wrap.classList.add("failed"); // the browser's "blocked" page is no use to a patient
      note.textContent = "The assistant could not be shown on this page.";
      note.hidden = false;
      if (window.console) {
        console.warn("Clinic assistant: the chat panel from " + appOrigin + " did not load here. If this site (" +
                     window.location.origin + ") should show it, add it to the assistant's embed origins " +
                     "(--embed-origin or CLINIC_EMBED_ORIGINS).");
      }
    }, READY_TIMEOUT_MS);
  }

  function emit(name, detail) {
    listeners[name].forEach(function (fn) { try { fn(detail); } catch (e) { setTimeout(function () { throw e; }); } });
    document.dispatchEvent(new CustomEvent("clinic-assistant:" + name, { detail: detail }));
  }

  // Full screen on phones, the panel is modal: Tab stays inside it until it is closed.
  function focusPanel() {
    frame.focus();
    send({ type: "clinic-assistant:focus", modal: window.matchMedia(PHONE).matches });
  }

  function open() {
    if (isOpen) return;
    isOpen = true;
    if (!frame) makeFrame();
    panel.hidden = false;
    wrap.classList.add("is-open");
    launcher.setAttribute("aria-expanded", "true");
    launcher.setAttribute("aria-label", "Close chat: " + (options.title || "Questions about our articles"));
    requestAnimationFrame(function () { panel.classList.add("shown"); });
    if (ready) focusPanel();
    emit("open", {});
  }

  function close(opts) {
    if (!isOpen) return;
    isOpen = false;
    panel.classList.remove("shown");
    panel.hidden = true;
    note.hidden = true;
    wrap.classList.remove("is-open");
    launcher.setAttribute("aria-expanded", "false");
    applyLook();
    if (!opts || opts.focus !== false) launcher.focus();
    emit("close", {});
  }

  function toggle() { if (isOpen) close(); else open(); }

  window.addEventListener("message", function (event) {
    if (!frame || event.origin !== appOrigin || event.source !== frame.contentWindow) return;
    var data = event.data;
    if (!data || typeof data.type !== "string") return;
    if (data.type === "clinic-assistant:ready") {
      ready = true;
      wrap.classList.remove("failed");
      clearTimeout(readyTimer);
      note.hidden = true;
      if (isOpen) focusPanel();
    } else if (data.type === "clinic-assistant:close") {
      close();
    } else if (data.type === "clinic-assistant:answer" && data.answer) {
      emit("answer", data.answer);
    }
  });

  launcher.addEventListener("click", toggle);
  wrap.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && isOpen) { event.preventDefault(); close(); }
  });

  window.ClinicAssistant = {
    version: 1,
    open: open,
    close: close,
    toggle: toggle,
    isOpen: function () { return isOpen; },
    on: function (name, fn) {
      if (!listeners[name]) throw new Error("ClinicAssistant.on: unknown event " + name);
      listeners[name].push(fn);
    },
    configure: function (raw) {
      options = tidy(Object.assign({}, options, raw || {}));
      applyLook();
      if (frame) { makeFrame(); }
    }
  };

  applyLook();
  function attach() {
    document.body.appendChild(host);
    if (options.open) open();
  }
  if (document.body) attach(); else document.addEventListener("DOMContentLoaded", attach);
})();
