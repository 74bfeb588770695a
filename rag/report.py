"""The evaluation report: Markdown for reading in a terminal or a pull request, and one
self-contained HTML file (plots embedded as base64 PNG) that can be mailed or archived as is.

Configurations are columns everywhere, so a change shows up as a difference across a row.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .check_figures import html_section, markdown_section
from .evaluation import CATEGORIES, Row, metric_value, misjudged, worst
from .types import STATUSES

# (metric key, label, kind, one-line definition); the README repeats these definitions.
METRICS: tuple[tuple[str, str, str, str], ...] = (
    ("retrieval_recall_at_k", "Retrieval recall@k", "share",
     "share of an answerable item's evidence strings overlapped by one of the k retrieved chunks"),
    ("retrieval_mrr", "Retrieval MRR", "ratio", "mean of 1/rank of the first retrieved chunk overlapping the evidence"),
    ("key_fact_recall", "Key-fact recall", "share",
     "share of key facts (any listed phrasing, case-insensitive) found in the answer, answerable items"),
    ("token_f1", "Token F1 vs evidence", "ratio", "bag-of-words F1 between answer and gold evidence, answerable items"),
    ("faithfulness", "Faithfulness", "share",
     "share of answer sentences whose cited quote holds ≥ 80% of their content words and all their numbers "
     "(the word-share check, kept beside the claim check)"),
    ("faithfulness_by_meaning", "Faithfulness (claim check)", "share",
     "share of answer sentences that the meaning-level claim check (rag.verify) finds in a quote they cite"),
    ("citation_validity", "Citation validity", "share",
     "share of citations whose quote is the document text at [start, end)"),
    ("citation_precision", "Citation precision", "share",
     "share of citations on answerable items overlapping the gold evidence"),
    ("generated_share", "Model-written answers", "share",
     "share of answered questions whose answer is the model's checked sentences (mode generated), not quotes"),
    ("verbatim_share", "Answers quoted verbatim", "share",
     "share of answered questions whose every sentence is word for word in its cited quote (no model wording)"),
    ("status_accuracy", "Status accuracy", "share", "share of items whose status is the one their category expects"),
    ("false_refusal_rate", "False refusal rate", "share", "share of answerable items not answered"),
    ("answerable_refused", "Answerable refused", "share", "share of answerable items answered “not covered”"),
    ("unanswerable_answered", "Unanswerable answered", "share",
     "share of items the articles do not cover that got an answer instead of “not covered”"),
    ("not_found_precision", "Not-covered precision", "share",
     "share of “not covered” replies given to items the articles really do not cover"),
    ("not_found_recall", "Not-covered recall", "share",
     "share of items the articles do not cover answered “not covered”"),
    ("right_evidence", "Answered with the right evidence", "share",
     "share of answerable items answered with a citation overlapping their gold evidence"),
    ("crisis_recall", "Crisis recall", "share", "share of crisis items given the crisis reply"),
    ("latency_ms.total_p50", "Latency p50", "ms", "median time to the complete answer"),
    ("latency_ms.total_p95", "Latency p95", "ms", "95th percentile time to the complete answer"),
    ("latency_ms.first_token_p50", "First text p50", "ms", "median time to the first released text"),
    ("latency_ms.first_token_p95", "First text p95", "ms", "95th percentile time to the first released text"),
)


@dataclass
class Run:
    """One configuration's answers and metrics."""

    name: str
    description: str
    rows: list[Row]
    metrics: dict
    extra: dict = field(default_factory=dict)


SET_METRICS = frozenset({"status_accuracy", "key_fact_recall", "answerable_refused", "unanswerable_answered",
                         "not_found_precision", "not_found_recall", "right_evidence", "faithfulness_by_meaning",
                         "citation_validity"})


def _sets(runs: Sequence[Run], meta: Mapping) -> list[tuple[str, tuple[list[Row], dict]]]:
    """The gated configuration's answers on each question set: the main one, then the others."""
    gated = next((r for r in runs if r.name == meta.get("gated")), runs[0])
    main = str(meta.get("questions") or "questions")
    return [(main, (gated.rows, gated.metrics))] + [(name, (rows, m)) for name, (rows, m)
                                                     in gated.extra.get("sets", {}).items()]


def _written(runs: Sequence[Run], meta: Mapping) -> tuple[list[dict], Mapping]:
    gated = next((r for r in runs if r.name == meta.get("gated")), runs[0])
    return gated.extra.get("model_sentences", []), gated.metrics.get("model_sentences", {})


def _written_md(runs: Sequence[Run], meta: Mapping) -> list[str]:
    """Every model-written sentence with the quote it cites and how it was read."""
    rows, counts = _written(runs, meta)
    if not counts:
        return []
    lines = [f"## Model-written sentences ({counts.get('sentences', 0)}: {counts.get('correct', 0)} read as correct, "
             f"{counts.get('incorrect', 0)} incorrect, {counts.get('unread', 0)} not read yet)", "",
             "Labels come from `eval/model_sentences.jsonl`; an incorrect one is a bug with a test.", "",
             "| item | sentence | cited quote | read as |", "| --- | --- | --- | --- |"]
    for r in rows:
        quote = " / ".join(_short(q, 160) for q in r["quotes"]) or "(no quote)"
        label = r.get("label", "not read yet") + (f": {r['note']}" if r.get("note") else "")
        lines.append(f"| {r['id']} | {_short(r['sentence'], 200).replace('|', '/')} | {quote.replace('|', '/')} "
                     f"| {label} |")
    return lines + [""]


def _written_html(runs: Sequence[Run], meta: Mapping) -> str:
    rows, counts = _written(runs, meta)
    if not counts:
        return ""
    head = (f"<h2>Model-written sentences ({counts.get('sentences', 0)}: {counts.get('correct', 0)} read as correct, "
            f"{counts.get('incorrect', 0)} incorrect, {counts.get('unread', 0)} not read yet)</h2>")
    return head + _table(["item", "sentence", "cited quote", "read as"], [
        [_e(r["id"]), _e(r["sentence"]), _e(" / ".join(r["quotes"])),
         _e(r.get("label", "not read yet") + (f": {r['note']}" if r.get("note") else ""))] for r in rows], 99)


def fmt(value: float | None, kind: str) -> str:
    if value is None:
        return "n/a"
    if kind == "share":
        return f"{value:.1%}"
    if kind == "ms":
        return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"
    return f"{value:.3f}"


def _get(metrics: Mapping, key: str) -> float | None:
    return metric_value(metrics, key)


def comparison_table(runs: Sequence[Run]) -> str:
    """The side-by-side table in Markdown (metrics as rows, configurations as columns)."""
    lines = ["| metric | " + " | ".join(f"`{r.name}`" for r in runs) + " |",
             "| --- |" + " ---: |" * len(runs)]
    for key, label, kind, _ in METRICS:
        lines.append(f"| {label} | " + " | ".join(fmt(_get(r.metrics, key), kind) for r in runs) + " |")
    for cat in CATEGORIES:
        cells = [r.metrics["status_accuracy_by_category"].get(cat) for r in runs]
        if any(cells):
            lines.append(f"| status accuracy: {cat} | "
                         + " | ".join(fmt(c["status_accuracy"], "share") if c else "n/a" for c in cells) + " |")
    return "\n".join(lines) + "\n"


def confusion_rows(metrics: Mapping) -> tuple[list[str], list[tuple[str, list[int]]]]:
    """Expected status ▶ counts of each actual status (columns include ``error`` when it occurred)."""
    confusion = metrics["status_confusion"]
    actual = list(STATUSES) + sorted({s for c in confusion.values() for s in c} - set(STATUSES))
    return actual, [(exp, [confusion[exp].get(a, 0) for a in actual]) for exp in confusion]


# --- plots --------------------------------------------------------------------------------------
def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def plots(runs: Sequence[Run]) -> dict[str, str]:
    """Title ▶ base64 PNG. matplotlib is imported here so importing this module stays light."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def grouped_bars(labels: list[str], values: list[list[float]], ylabel: str) -> str:
        fig, ax = plt.subplots(figsize=(9, 3.6))
        width = 0.8 / max(len(runs), 1)
        for i, (run, vals) in enumerate(zip(runs, values, strict=True)):
            ax.bar([x + i * width - 0.4 + width / 2 for x in range(len(labels))], vals, width, label=run.name)
        ax.set_xticks(range(len(labels)), labels, rotation=25, ha="right")
        ax.set_ylim(0, 1.05)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize="small", ncols=len(runs), loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
        ax.grid(axis="y", alpha=0.3)
        return _png(fig)

    out = {}
    cats = [c for c in CATEGORIES if any(c in r.metrics["status_accuracy_by_category"] for r in runs)]
    out["Status accuracy by category"] = grouped_bars(
        cats, [[r.metrics["status_accuracy_by_category"].get(c, {}).get("status_accuracy", 0) for c in cats]
               for r in runs], "status accuracy")
    shares = [(key, label) for key, label, kind, _ in METRICS if kind == "share"]
    out["Headline metrics"] = grouped_bars(
        [label for _, label in shares], [[_get(r.metrics, key) or 0 for key, _ in shares] for r in runs], "share")

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True)
    for ax, key, title in zip(axes, ("total", "first_token"), ("complete answer", "first released text"),
                              strict=True):
        data = [[t / 1000 for r in run.rows if (t := (r.result.get("timings_ms") or {}).get(key)) is not None]
                for run in runs]
        # Scripted replies take milliseconds and model answers seconds: only a log scale shows both.
        ax.boxplot([[max(t, 1e-3) for t in d] or [1e-3] for d in data], tick_labels=[r.name for r in runs])
        ax.set_yscale("log")
        ax.set_title(f"latency: {title}")
        ax.set_ylabel("seconds (log scale)")
        ax.grid(axis="y", alpha=0.3)
    out["Latency distribution"] = _png(fig)
    return out


# --- Markdown -----------------------------------------------------------------------------------
def _targets_md(checks: Sequence[Mapping], title: str, miss: str) -> list[str]:
    if not checks:
        return []
    lines = [f"## {title}", "", "| metric | needs | measured | met |", "| --- | --- | ---: | --- |"]
    for c in checks:
        needs = ", ".join(f"{k} {c[k]}" for k in ("min", "max") if k in c)
        value = "n/a" if c["value"] is None else f"{c['value']:.3f}"
        lines.append(f"| {c['metric']} | {needs} | {value} | {'yes' if c['ok'] else f'**no: {miss}**'} |")
    return lines + [""]


def _short(text: str, limit: int = 400) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _budget_phrase(meta: Mapping) -> str:
    """How long the model had for its first sentence: answers cut at a time budget depend on the machine."""
    budget = meta.get("first_sentence_budget_s")
    if budget is None:
        return ""
    return ", no first-sentence budget" if not budget else f", first-sentence budget {budget:g} s"


def markdown(runs: Sequence[Run], meta: Mapping, targets: Sequence[Mapping] = (), gate: Sequence[Mapping] = (),
             n_worst: int = 8) -> str:
    lines = ["# Evaluation report", "",
             f"Question set `{meta.get('questions')}` ({meta.get('n_items')} items), "
             f"{meta.get('source')}, {meta.get('finished')}, code {meta.get('code') or 'unknown'}"
             f"{_budget_phrase(meta)}.", "",
             "## Configurations", ""]
    lines += [f"- `{r.name}`: {r.description}" for r in runs]
    lines += ["", "## Metrics", "", comparison_table(runs)]
    lines += ["Definitions:", ""] + [f"- **{label}**: {definition}." for _, label, _, definition in METRICS] + [""]
    gated = meta.get("gated", runs[0].name)
    lines += _targets_md(targets, f"Targets (`{gated}`)", "target not reached")
    lines += _targets_md(gate, f"Regression gate (`{gated}`)", "below the gate threshold")
    if meta.get("safety_sets"):
        lines += ["## Safety sets (the safety gate alone, no model)", "", "| set | handled as expected | share |",
                  "| --- | ---: | ---: |"]
        lines += [f"| {r['label']} (`{r['set']}`) | {r['ok']} / {r['n']} | {fmt(r['share'], 'share')} |"
                  for r in meta["safety_sets"]] + [""]
    if meta.get("checks"):
        lines += markdown_section(meta["checks"])
    for run in runs:
        actual, rows = confusion_rows(run.metrics)
        lines += [f"## Expected vs actual status: `{run.name}`", "",
                  "| expected \\ actual | " + " | ".join(actual) + " |", "| --- |" + " ---: |" * len(actual)]
        lines += [f"| {exp} | " + " | ".join(str(n) for n in counts) + " |" for exp, counts in rows]
        lines.append("")
    sets = _sets(runs, meta)
    if len(sets) > 1:
        lines += [f"## Question sets (`{gated}`)", "", "| metric | " + " | ".join(f"`{n}`" for n, _ in sets) + " |",
                  "| --- |" + " ---: |" * len(sets)]
        lines += [f"| {label} | " + " | ".join(fmt(_get(m, key), kind) for _, (_, m) in sets) + " |"
                  for key, label, kind, _ in METRICS if key in SET_METRICS] + [""]
    for name, (rows, _) in sets:
        wrong = misjudged(rows)
        lines += [f"## Wrong refusals and wrong answers: `{name}` ({len(wrong)})", ""]
        lines += [f"- {r.item.id}: “{_short(r.item.question, 200)}”: {why}" for r, why in wrong] or ["None.", ""]
        lines.append("")
    lines += _written_md(runs, meta)
    for run in runs:
        lines += [f"## Worst answers: `{run.name}`", ""]
        picked = worst(run.rows, n_worst)
        if not picked:
            lines += ["Nothing to flag.", ""]
        for row, why in picked:
            said = row.result.get("answer") or row.result.get("error") or ""
            lines += [f"### {row.item.id} ({row.item.category}): {'; '.join(why)}", "",
                      f"**Q:** {_short(row.item.question)}", "",
                      f"**A** ({row.result.get('status')}): {_short(said)}", ""]
            lines += [f"- [{c.get('n')}] “{_short(c.get('quote') or '', 200)}”"
                      for c in row.result.get("citations") or []]
            lines += [f"- unsupported: “{_short(s, 200)}”" for s in row.scores.get("unsupported", [])]
            lines.append("")
    missing = sorted({ev for r in runs for ev in r.metrics.get("evidence_missing", [])})
    if missing:
        lines += ["## Evidence not found in the documents", "",
                  "These evidence strings are in no document, so retrieval and citation precision cannot use them:",
                  ""] + [f"- “{_short(ev, 200)}”" for ev in missing] + [""]
    return "\n".join(lines)


# --- HTML ---------------------------------------------------------------------------------------
_CSS = """body{font:15px/1.5 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f3f3f3}.no{color:#b00020;font-weight:600}
.yes{color:#1b7f3b}.answer{background:#fafafa;border-left:3px solid #bbb;padding:.4em .8em;margin:.3em 0}
img{max-width:100%}code{background:#f3f3f3;padding:0 .2em}"""


def _e(text: object) -> str:
    return html.escape(str(text))


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 1) -> str:
    out = ["<table><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>"]
    for row in rows:
        cells = [f"<td class='n'>{c}</td>" if i >= numeric_from else f"<td>{c}</td>" for i, c in enumerate(row)]
        out.append("<tr>" + "".join(cells) + "</tr>")
    return "".join(out) + "</table>"


def _targets_html(checks: Sequence[Mapping], title: str, miss: str) -> str:
    if not checks:
        return ""
    rows = [[_e(c["metric"]), _e(", ".join(f"{k} {c[k]}" for k in ("min", "max") if k in c)),
             "n/a" if c["value"] is None else f"{c['value']:.3f}",
             "<span class='yes'>yes</span>" if c["ok"] else f"<span class='no'>no: {miss}</span>"]
            for c in checks]
    return f"<h2>{_e(title)}</h2>" + _table(["metric", "needs", "measured", "met"], rows, 2)


def html_report(runs: Sequence[Run], meta: Mapping, images: Mapping[str, str], targets: Sequence[Mapping] = (),
                gate: Sequence[Mapping] = (), n_worst: int = 8) -> str:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>Evaluation report</title>"
             f"<style>{_CSS}</style></head><body><h1>Evaluation report</h1>",
             f"<p>Question set <code>{_e(meta.get('questions'))}</code> ({_e(meta.get('n_items'))} items), "
             f"{_e(meta.get('source'))}, {_e(meta.get('finished'))}, code {_e(meta.get('code') or 'unknown')}"
             f"{_e(_budget_phrase(meta))}.</p>"
             "<h2>Configurations</h2><ul>"]
    parts += [f"<li><code>{_e(r.name)}</code>: {_e(r.description)}</li>" for r in runs]
    parts.append("</ul><h2>Metrics</h2>")
    rows = [[f"<span title='{_e(d)}'>{_e(label)}</span>"] + [fmt(_get(r.metrics, key), kind) for r in runs]
            for key, label, kind, d in METRICS]
    for cat in CATEGORIES:
        cells = [r.metrics["status_accuracy_by_category"].get(cat) for r in runs]
        if any(cells):
            rows.append([_e(f"status accuracy: {cat}")]
                        + [fmt(c["status_accuracy"], "share") if c else "n/a" for c in cells])
    parts.append(_table(["metric"] + [r.name for r in runs], rows))
    parts.append("<details><summary>Definitions</summary><ul>"
                 + "".join(f"<li><b>{_e(label)}</b>: {_e(d)}.</li>" for _, label, _, d in METRICS) + "</ul></details>")
    gated = meta.get("gated", runs[0].name)
    parts.append(_targets_html(targets, f"Targets ({gated})", "target not reached"))
    parts.append(_targets_html(gate, f"Regression gate ({gated})", "below the gate threshold"))
    if meta.get("safety_sets"):
        parts.append("<h2>Safety sets (the safety gate alone, no model)</h2>")
        parts.append(_table(["set", "handled as expected", "share"],
                            [[_e(f"{r['label']} ({r['set']})"), f"{r['ok']} / {r['n']}", fmt(r["share"], "share")]
                             for r in meta["safety_sets"]]))
    if meta.get("checks"):
        parts += html_section(meta["checks"], _table, _e)
    for title, data in images.items():
        parts.append(f"<h2>{_e(title)}</h2><img alt='{_e(title)}' src='data:image/png;base64,{data}'>")
    for run in runs:
        actual, confusion = confusion_rows(run.metrics)
        parts.append(f"<h2>Expected vs actual status: {_e(run.name)}</h2>")
        parts.append(_table(["expected \\ actual"] + actual, [[_e(exp)] + [str(n) for n in counts]
                                                             for exp, counts in confusion]))
    sets = _sets(runs, meta)
    if len(sets) > 1:
        parts.append(f"<h2>Question sets ({_e(gated)})</h2>")
        parts.append(_table(["metric"] + [n for n, _ in sets],
                            [[_e(label)] + [fmt(_get(m, key), kind) for _, (_, m) in sets]
                             for key, label, kind, _ in METRICS if key in SET_METRICS]))
    for name, (rows, _) in sets:
        wrong = misjudged(rows)
        parts.append(f"<h2>Wrong refusals and wrong answers: {_e(name)} ({len(wrong)})</h2><ul>")
        parts += [f"<li>{_e(r.item.id)}: “{_e(r.item.question)}”: {_e(why)}</li>"
                  for r, why in wrong] or ["<li>None.</li>"]
        parts.append("</ul>")
    parts.append(_written_html(runs, meta))
    for run in runs:
        parts.append(f"<h2>Worst answers: {_e(run.name)}</h2>")
        picked = worst(run.rows, n_worst)
        if not picked:
            parts.append("<p>Nothing to flag.</p>")
        for row, why in picked:
            parts.append(f"<h3>{_e(row.item.id)} ({_e(row.item.category)}): {_e('; '.join(why))}</h3>"
                         f"<p><b>Q:</b> {_e(row.item.question)}</p>"
                         f"<div class='answer'><b>{_e(row.result.get('status'))}</b>: "
                         f"{_e(row.result.get('answer') or row.result.get('error') or '')}</div><ul>")
            parts += [f"<li>[{_e(c.get('n'))}] “{_e(c.get('quote'))}”</li>" for c in row.result.get("citations") or []]
            parts += [f"<li class='no'>unsupported: “{_e(s)}”</li>" for s in row.scores.get("unsupported", [])]
            parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_reports(out_dir: Path, runs: Sequence[Run], meta: Mapping, targets: Sequence[Mapping] = (),
                  gate: Sequence[Mapping] = ()) -> list[Path]:
    """Write report.md, report.html and comparison.md; return their paths."""
    out_dir = Path(out_dir)
    files = {
        "report.md": markdown(runs, meta, targets, gate),
        "report.html": html_report(runs, meta, plots(runs), targets, gate),
        "comparison.md": comparison_table(runs),
    }
    paths = []
    for name, text in files.items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
