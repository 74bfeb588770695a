"""How the two judgements that protect patients generalise: the crisis detectors and the claim check.

Both are measured on files written before they were tuned and never used to choose anything
(``eval/safety/crisis_test.jsonl``, ``eval/claims/test.jsonl``), beside the figures on the data
they were built on, so a gap between the two is visible. The evaluation report prints them and
the regression gate reads the flat ``checks`` figures (``checks.claim_false_accept`` ...).
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["check_figures", "flat_figures", "html_section", "markdown_section"]


def check_figures(embedder=None, cache_dir=None, leave_one_out: bool = True) -> dict:
    """``{"crisis": ..., "claims": ...}``; the crisis part needs the embedder (None: skipped)."""
    from .verify.benchmark import benchmark

    out: dict = {"claims": benchmark()}
    if embedder is not None:
        from .safety import CrisisClassifier, SafetyGate, crisis_rules_fire
        from .safety.measure import LATER_TEST_FILES, detector_figures, everyday_figures, leave_one_category_out
        from .safety.messages import default_messages

        clf = CrisisClassifier.fit(embedder, cache_dir=cache_dir, rules=crisis_rules_fire)
        gate = SafetyGate(default_messages(), clf)
        figures = detector_figures(gate)
        figures["later_tests"] = [detector_figures(gate, f) for f in LATER_TEST_FILES if f.exists()]
        figures["everyday"] = everyday_figures(gate)
        if leave_one_out:
            figures["leave_one_category_out"] = leave_one_category_out(clf, cache_dir=cache_dir)
        out["crisis"] = figures
    return out


def flat_figures(figures: Mapping) -> dict[str, float]:
    """The figures the gate and the targets name, flat."""
    flat: dict[str, float] = {}
    test2 = figures.get("claims", {}).get("test2")
    if test2:  # the second frozen part (dropped conditions a kind of their own)
        new = test2["new"]
        flat.update({"claim_test2_false_accept": new["false_accept"],
                     "claim_test2_false_accept_worst_kind": max(
                         (k["accepted"] for k in new["by_kind"].values() if not k["supported"]), default=None),
                     "claim_test2_true_accept_copying": new["true_accept_copying"],
                     "claim_test2_true_accept_paraphrase": new["true_accept_paraphrase"]})
    test = figures.get("claims", {}).get("test")
    if test:
        new, old = test["new"], test["old"]
        worst = max((k["accepted"] for k in new["by_kind"].values() if not k["supported"]), default=None)
        flat.update({"claim_false_accept": new["false_accept"], "claim_false_accept_worst_kind": worst,
                     "claim_true_accept_copying": new["true_accept_copying"],
                     "claim_true_accept_copying_source_words": new.get("true_accept_copying_source_words"),
                     "claim_true_accept_paraphrase": new["true_accept_paraphrase"],
                     "claim_false_accept_old_check": old["false_accept"]})
    crisis = figures.get("crisis")
    if crisis:
        flat.update({"crisis_test_recall": crisis["gate"]["recall"],
                     "crisis_test_false_crisis": crisis["gate"]["false_crisis"],
                     "crisis_test_lines_shown": crisis["crisis_lines_shown"]["recall"],
                     "crisis_test_rules_recall": crisis["rules"]["recall"],
                     "crisis_test_classifier_recall": crisis["classifier"]["recall"]
                     if crisis.get("classifier") else None})
        if crisis.get("everyday"):
            flat["crisis_everyday_false_crisis"] = crisis["everyday"]["false_crisis"]
        for later in crisis.get("later_tests", ()):  # crisis_test2.jsonl ▶ crisis_test2_recall ...
            name = later["file"].removesuffix(".jsonl")
            flat.update({f"{name}_recall": later["gate"]["recall"],
                         f"{name}_false_crisis": later["gate"]["false_crisis"],
                         f"{name}_lines_shown": later["crisis_lines_shown"]["recall"]})
    return {k: v for k, v in flat.items() if v is not None}


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _crisis_rows(c: Mapping) -> list[list[str]]:
    rows = []
    dev = c.get("dev_out_of_fold") or {}
    for name, key in (("rules only", "rules"), ("classifier only", "classifier"),
                      ("rules or classifier (the gate)", "gate")):
        fig = c.get(key)
        if not fig:
            continue
        d_rec = dev.get({"rules": "rules_recall", "classifier": "classifier_recall", "gate": "combined_recall"}[key])
        d_fp = dev.get({"rules": "rules_false_crisis", "classifier": "classifier_false_crisis",
                        "gate": "combined_false_crisis"}[key])
        rows.append([name, f"{_pct(fig['recall'])} ({fig['caught']}/{fig['crisis']})",
                     f"{_pct(fig['false_crisis'])} ({fig['false']}/{fig['safe']})", _pct(d_rec), _pct(d_fp)])
    lines = c["crisis_lines_shown"]
    rows.append(["crisis lines shown at all (crisis reply, or the footer on any other reply)",
                 f"{_pct(lines['recall'])} ({lines['caught']}/{lines['crisis']})", "", "", ""])
    return rows


def _claim_rows(claims: Mapping) -> list[list[str]]:
    rows = []
    for part in ("test2", "test", "dev", "dev2", "dev3"):
        if part not in claims:
            continue
        for name in ("new", "old"):
            r = claims[part][name]
            worst = max(((k["accepted"], kind) for kind, k in r["by_kind"].items() if not k["supported"]),
                        default=(None, ""))
            rows.append([f"{part} ({r['false_claims']} false, {r['true_claims']} true)",
                         "claim check" if name == "new" else "old vocabulary check",
                         _pct(r["false_accept"]), f"{_pct(worst[0])} ({worst[1]})",
                         _pct(r["true_accept_copying"]),
                         f"{_pct(r.get('true_accept_copying_source_words'))} ({r.get('copying_source_words_n', 0)})",
                         _pct(r["true_accept_paraphrase"]),
                         f"{r['median_ms']:.2f}" if r.get("median_ms") is not None else "n/a"])
    return rows


CRISIS_HEAD = ["detector", "frozen test: recall", "frozen test: false crisis", "dev (held out): recall",
               "dev: false crisis"]
CLAIM_HEAD = ["part", "check", "false claims accepted", "worst kind", "true accepted: verbatim and compressions",
              "... of those in the source's own words (n)", "true accepted: paraphrases and reorderings",
              "median ms a claim"]


def markdown_section(figures: Mapping) -> list[str]:
    out: list[str] = []

    def table(head, rows):
        out.extend(["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)])
        out.extend("| " + " | ".join(r) + " |" for r in rows)
        out.append("")

    c = figures.get("crisis")
    if c:
        out += ["## Crisis detection (frozen test file, never tuned on)", ""]
        table(CRISIS_HEAD, _crisis_rows(c))
        for later in c.get("later_tests", ()):
            out += [f"Later frozen test file ({later['file']}, another author):", ""]
            table(CRISIS_HEAD, _crisis_rows(later))
        if c.get("everyday"):
            e = c["everyday"]
            out += [f"Everyday messages (the non-crisis safety sets, {e['n']}) given the crisis reply by the "
                    f"whole gate: {_pct(e['false_crisis'])} ({e['false']})"
                    + (": " + "; ".join(f"“{m}”" for m in e["examples"]) if e["examples"] else ""), ""]
        if c.get("leave_one_category_out"):
            out += ["Leave one category out (classifier trained without a crisis category, scored on it):", ""]
            table(["category", "classifier", "with the rules", "n"],
                  [[k, _pct(v["classifier"]), _pct(v["with_rules"]), str(v["n"])]
                   for k, v in c["leave_one_category_out"].items()])
        if c.get("misses"):
            out += ["Crisis messages of the test file not given the crisis reply:", ""]
            out += [f"- ({m['category']}, score {m['score']}, crisis lines "
                    f"{'shown' if m['crisis_lines_anyway'] else 'NOT shown'}) “{m['text']}”" for m in c["misses"]]
            out.append("")
    claims = figures.get("claims")
    if claims:
        out += ["## Claim check (eval/claims; the test part is frozen)", ""]
        table(CLAIM_HEAD, _claim_rows(claims))
    return out


def html_section(figures: Mapping, table, escape) -> list[str]:
    parts = []
    c = figures.get("crisis")
    if c:
        parts.append("<h2>Crisis detection (frozen test file, never tuned on)</h2>")
        parts.append(table(CRISIS_HEAD, [[escape(x) for x in r] for r in _crisis_rows(c)]))
        for later in c.get("later_tests", ()):
            parts.append(f"<p>Later frozen test file ({escape(later['file'])}, another author):</p>")
            parts.append(table(CRISIS_HEAD, [[escape(x) for x in r] for r in _crisis_rows(later)]))
        if c.get("everyday"):
            e = c["everyday"]
            parts.append(f"<p>Everyday messages (the non-crisis safety sets, {e['n']}) given the crisis reply by "
                         f"the whole gate: {_pct(e['false_crisis'])} ({e['false']})</p>")
        if c.get("leave_one_category_out"):
            parts.append("<p>Leave one category out (classifier trained without a crisis category, scored on it):</p>")
            parts.append(table(["category", "classifier", "with the rules", "n"],
                               [[escape(k), _pct(v["classifier"]), _pct(v["with_rules"]), str(v["n"])]
                                for k, v in c["leave_one_category_out"].items()]))
    claims = figures.get("claims")
    if claims:
        parts.append("<h2>Claim check (eval/claims; the test part is frozen)</h2>")
        parts.append(table(CLAIM_HEAD, [[escape(x) for x in r] for r in _claim_rows(claims)]))
    return parts
