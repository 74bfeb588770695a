/* The widget's chat panel (the page at /widget, shown in an iframe by widget.js).
   Asks /api/ask/stream on this origin and shows the checked sentences as they arrive, then the
   answer with numbered citation chips that open the quoted passage. Everything a patient, an
   article or the model wrote goes into the page as text (textContent), never as HTML. */
(function () {
  "use strict";
  var MARKER = /\[(\d{1,3})\]/g;
  var EXACT_FRAGMENT_MAX = 80;
  var FALLBACK_ERROR = "Sorry, something went wrong on our side. Please try again in a moment, or contact the clinic.";
  var HOST_TEXT_KEYS = ["title", "greeting", "disclaimer", "placeholder", "color", "parentOrigin"];

  var defaults = JSON.parse(document.getElementById("panel-defaults").textContent);
  var config = readConfig(defaults);
  var framed = window.parent !== window;
  var history = [];
  var busy = false;
  var controller = null;
  var counter = 0;
  var modal = false; // full screen on a phone: keep Tab inside the panel

  var $ = function (id) { return document.getElementById(id); };
  var log = $("log"), form = $("ask"), box = $("question"), sendButton = $("send"), count = $("counter");

  // --- options: the server's defaults, then what the embedding tag chose ------------------------
  function readConfig(base) {
    var out = Object.assign({}, base);
    var raw = {};
    try { raw = JSON.parse(decodeURIComponent(window.location.hash.slice(1)) || "{}"); } catch (e) { raw = {}; }
    if (!raw || typeof raw !== "object") raw = {};
    HOST_TEXT_KEYS.forEach(function (key) {
      var v = raw[key];
      if (typeof v === "string" && v.trim()) out[key] = v.trim();
    });
    if (Array.isArray(raw.starters)) {
      out.starters = raw.starters.filter(function (s) { return typeof s === "string" && s.trim(); }).slice(0, 6);
    }
    var max = parseInt(raw.maxLength, 10);
    out.maxLength = max > 0 ? Math.min(max, base.maxLength) : base.maxLength; // never above the server's limit
    if (!(window.CSS && CSS.supports("color", out.color))) out.color = base.color;
    // Replies to the host page go only to the origin that framed us (the browser checks it too).
    var ancestors = window.location.ancestorOrigins;
    out.parentOrigin = ancestors && ancestors.length ? ancestors[0] : out.parentOrigin || null;
    return out;
  }

  function toParent(message) {
    if (framed && config.parentOrigin) window.parent.postMessage(message, config.parentOrigin);
  }

  // --- small DOM helpers ------------------------------------------------------------------------
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function httpUrl(url) {
    try {
      var u = new URL(url);
      return u.protocol === "https:" || u.protocol === "http:" ? u.href : null;
    } catch (e) { return null; }
  }

  function fragmentTerm(text) { return encodeURIComponent(text).replace(/-/g, "%2D"); }

  /* The article URL scrolled to the quote (a text fragment), as the browser chat links it. */
  function quoteUrl(url, quote) {
    var base = url.split("#")[0];
    var tokens = quote.split(/\s+/).filter(Boolean);
    if (!tokens.length) return base;
    var single = tokens.join(" ");
    if ((single.length <= EXACT_FRAGMENT_MAX && quote.trim().indexOf("\n") < 0) || tokens.length <= 10) {
      return base + "#:~:text=" + fragmentTerm(single);
    }
    return base + "#:~:text=" + fragmentTerm(tokens.slice(0, 5).join(" ")) + "," +
      fragmentTerm(tokens.slice(-5).join(" "));
  }

  // --- rendering --------------------------------------------------------------------------------
  function paragraphs(text, into, chipFor) {
    text.trim().split(/\n\s*\n/).forEach(function (block) {
      var p = el("p");
      block.split("\n").forEach(function (line, i) {
        if (i) p.appendChild(document.createElement("br"));
        var last = 0, m;
        MARKER.lastIndex = 0;
        while ((m = MARKER.exec(line)) !== null) {
          var chip = chipFor ? chipFor(parseInt(m[1], 10)) : null;
          if (!chip) continue;
          p.appendChild(document.createTextNode(line.slice(last, m.index)));
          p.appendChild(chip);
          last = m.index + m[0].length;
        }
        p.appendChild(document.createTextNode(line.slice(last)));
      });
      into.appendChild(p);
    });
  }

  function quoteBox(c, id) {
    var box = el("div", "quote");
    box.id = id;
    box.hidden = true;
    var head = el("p", "quote-title");
    head.appendChild(el("span", "quote-n", "[" + c.n + "] "));
    head.appendChild(el("span", "", c.title || c.doc_id));
    box.appendChild(head);
    box.appendChild(el("blockquote", "quote-text", c.quote));
    var url = c.url && httpUrl(c.url);
    if (url) {
      var link = el("a", "quote-link", "Read it in the article");
      link.href = quoteUrl(url, c.quote || "");
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      link.appendChild(el("span", "sr-only", " (opens in a new tab)"));
      box.appendChild(link);
    }
    return box;
  }

  function renderAnswer(bubble, answer) {
    var status = typeof answer.status === "string" ? answer.status : "answered";
    bubble.className = "msg msg--bot msg--" + status.replace(/[^a-z_]/g, "");
    bubble.textContent = "";
    if (status === "crisis") bubble.setAttribute("role", "alert");
    // A welcome to "hi" is declined in status only: no "outside what this assistant can help with".
    var label = answer.reason === "small talk" ? "" : config.statusLabels && config.statusLabels[status];
    if (!label && status === "answered" && typeof answer.mode === "string") {
      label = config.modeLabels && config.modeLabels[answer.mode];  // "In the article's words"
    }
    if (label) bubble.appendChild(el("p", "msg-label", label));
    var citations = Array.isArray(answer.citations) ? answer.citations : [];
    var byN = {};
    citations.forEach(function (c) { if (c && typeof c.n === "number") byN[c.n] = c; });
    var quotes = el("div", "quotes");
    var made = {};
    var id = "a" + (++counter);
    function chipFor(n) {
      var c = byN[n];
      if (!c) return null;
      var qid = id + "-q" + n;
      if (!made[n]) { quotes.appendChild(quoteBox(c, qid)); made[n] = true; }
      var chip = el("button", "chip", String(n));
      chip.type = "button";
      chip.setAttribute("aria-expanded", "false");
      chip.setAttribute("aria-controls", qid);
      chip.setAttribute("aria-label", "Source " + n + ": " + (c.title || c.doc_id) + ". Show the quote");
      chip.addEventListener("click", function () {
        var target = document.getElementById(qid);
        var show = target.hidden;
        target.hidden = !show;
        bubble.querySelectorAll('.chip[aria-controls="' + qid + '"]').forEach(function (b) {
          b.setAttribute("aria-expanded", String(show));
        });
        if (show) target.scrollIntoView({ block: "nearest" });
      });
      return chip;
    }
    var body = el("div", "msg-text");
    paragraphs(String(answer.answer || ""), body, chipFor);
    bubble.appendChild(body);
    if (typeof answer.notice === "string" && answer.notice.trim()) {
      var notice = el("div", "notice");
      notice.setAttribute("role", "note");
      paragraphs(answer.notice, notice, null);
      bubble.appendChild(notice);
    }
    if (quotes.childNodes.length) bubble.appendChild(quotes);
  }

  function showError(bubble, text, kind) {
    bubble.className = "msg msg--bot msg--" + (kind || "error");
    bubble.textContent = "";
    bubble.setAttribute("role", "alert");
    bubble.appendChild(el("p", "", text));
  }

  function greet() {
    var hello = el("div", "msg msg--bot msg--greeting");
    hello.appendChild(el("p", "", config.greeting));
    log.appendChild(hello);
    if (config.starters && config.starters.length) {
      var list = el("div", "starters");
      list.setAttribute("role", "group");
      list.setAttribute("aria-label", "Example questions");
      config.starters.forEach(function (q) {
        var b = el("button", "starter", q);
        b.type = "button";
        b.addEventListener("click", function () { ask(q); });
        list.appendChild(b);
      });
      log.appendChild(list);
    }
  }

  // --- asking -------------------------------------------------------------------------------------
  function events(response, onEvent) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    function handle(block) {
      var name = "message", data = [];
      block.split("\n").forEach(function (line) {
        if (line.indexOf("event:") === 0) name = line.slice(6).trim();
        else if (line.indexOf("data:") === 0) data.push(line.slice(5).replace(/^ /, ""));
      });
      if (!data.length) return;
      var value;
      try { value = JSON.parse(data.join("\n")); } catch (e) { return; }
      onEvent(name, value);
    }
    function pump() {
      return reader.read().then(function (chunk) {
        if (chunk.done) { if (buffer.trim()) handle(buffer); return; }
        buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n?/g, "\n");
        var parts = buffer.split("\n\n");
        buffer = parts.pop();
        parts.forEach(handle);
        return pump();
      });
    }
    return pump();
  }

  function setBusy(value) {
    busy = value;
    sendButton.disabled = value;
    log.setAttribute("aria-busy", String(value));
  }

  function ask(question) {
    question = question.trim();
    if (!question || busy) return;
    var starters = log.querySelector(".starters");
    if (starters) starters.remove();
    log.appendChild(el("div", "msg msg--user", question));
    var bubble = el("div", "msg msg--bot msg--pending");
    var progress = el("p", "typing", "Checking the clinic's articles…");
    bubble.appendChild(progress);
    log.appendChild(bubble);
    scrollDown();
    setBusy(true);
    box.value = "";
    updateCounter();
    controller = window.AbortController ? new AbortController() : null;
    var mine = controller;
    var text = "", finished = false;
    var body = JSON.stringify({ question: question, history: history.slice(-2 * (config.maxHistoryTurns || 6)) });
    fetch("api/ask/stream", {
      method: "POST", headers: { "Content-Type": "application/json", "Accept": "text/event-stream" },
      body: body, credentials: "omit", cache: "no-store", signal: mine ? mine.signal : undefined
    }).then(function (response) {
      if (!response.ok) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          var message = data && typeof data.error === "string" ? data.error : FALLBACK_ERROR;
          if (response.status === 429) {
            var wait = parseInt(response.headers.get("Retry-After"), 10);
            message = wait > 0 && message === FALLBACK_ERROR ?
              "Please wait about " + wait + " seconds, then try again." : message;
            showError(bubble, message, "wait");
            if (!box.value) { box.value = question; updateCounter(); } // nothing to type again
          } else {
            if (response.status === 413 || response.status === 422) message = message.charAt(0).toUpperCase() +
              message.slice(1) + (/[.!?]$/.test(message) ? "" : ".");
            showError(bubble, message, response.status === 503 ? "wait" : "error");
          }
          finished = true;
        });
      }
      return events(response, function (name, data) {
        if (name === "token" && typeof data === "string") {
          text += data;
          bubble.textContent = "";
          paragraphs(text, bubble, null);
          progress.textContent = "Writing the answer…";
          bubble.appendChild(progress);
        } else if (name === "done" && data && typeof data === "object") {
          finished = true;
          renderAnswer(bubble, data);
          history.push({ role: "user", content: question }, { role: "assistant", content: String(data.answer || "") });
          toParent({ type: "clinic-assistant:answer", answer: {
            status: data.status, answer: data.answer, notice: data.notice || null, mode: data.mode || null,
            citations: (data.citations || []).map(function (c) {
              return { n: c.n, title: c.title, quote: c.quote, url: c.url };
            })
          } });
        } else if (name === "error") {
          finished = true;
          showError(bubble, data && typeof data.error === "string" ? data.error : FALLBACK_ERROR);
        }
        scrollDown();
      });
    }).catch(function (err) {
      if (mine && mine.signal.aborted) return;
      finished = true;
      showError(bubble, FALLBACK_ERROR);
      if (window.console && err) console.warn("Clinic assistant: the answer did not arrive (" + err.name + ")");
    }).then(function () {
      if (mine && mine.signal.aborted) return;
      if (!finished) showError(bubble, FALLBACK_ERROR);
      setBusy(false);
      scrollDown();
    });
  }

  // --- the form, counter, reset, keyboard ----------------------------------------------------------
  function updateCounter() {
    var n = box.value.length;
    count.textContent = n + " / " + config.maxLength;
    count.classList.toggle("near", n >= config.maxLength * 0.9);
    count.setAttribute("aria-label", n + " of " + config.maxLength + " characters used");
  }

  function reset() {
    if (controller) controller.abort();
    controller = null;
    history = [];
    log.textContent = "";
    setBusy(false);
    greet();
    box.value = "";
    updateCounter();
    box.focus();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    ask(box.value);
  });
  box.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      ask(box.value);
    }
  });
  box.addEventListener("input", updateCounter);
  $("reset").addEventListener("click", reset);
  $("close").addEventListener("click", function () { toParent({ type: "clinic-assistant:close" }); });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { event.preventDefault(); toParent({ type: "clinic-assistant:close" }); }
    if (event.key === "Tab" && modal) keepFocusInside(event);
  });

  function keepFocusInside(event) {
    var items = Array.prototype.filter.call(
      document.querySelectorAll("button, a[href], textarea, [tabindex='0']"),
      function (node) { return !node.disabled && !node.hidden && node.offsetParent !== null; });
    if (!items.length) return;
    var first = items[0], last = items[items.length - 1];
    if (event.shiftKey && document.activeElement === first) { event.preventDefault(); last.focus(); }
    else if (!event.shiftKey && document.activeElement === last) { event.preventDefault(); first.focus(); }
  }
  window.addEventListener("message", function (event) {
    if (event.source !== window.parent || event.origin !== config.parentOrigin) return;
    if (event.data && event.data.type === "clinic-assistant:focus") {
      modal = event.data.modal === true;
      box.focus();
    }
  });

  // --- start ---------------------------------------------------------------------------------------
  document.documentElement.style.setProperty("--accent", config.color);
  document.title = config.title;
  $("panel-title").textContent = config.title;
  $("panel-clinic").textContent = config.clinicName || "";
  $("disclaimer").textContent = config.disclaimer;
  box.placeholder = config.placeholder;
  box.maxLength = config.maxLength;
  if (!framed) $("close").hidden = true;
  updateCounter();
  greet();
  toParent({ type: "clinic-assistant:ready" });
})();
