"""Checks eval/questions.jsonl against the clinic's article, so a scored evaluation never rests on
a quote the article does not contain (curly quotes and no-break spaces make that easy to get wrong)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "eval" / "questions.jsonl"
ARTICLE_DIRS = [ROOT / "corpus", ROOT.parent / "shared" / "seed"]

MIN_COUNTS = {
    "factual": 35,
    "followup": 10,
    "unanswerable": 15,
    "offtopic": 6,
    "crisis": 8,
    "injection": 6,
    "medical_advice": 8,
}
ANSWERABLE = {"factual", "followup"}
REQUIRED = ("id", "category", "question", "answerable", "key_facts", "evidence")


def _articles() -> dict[Path, str]:
    found = {p: p.read_text(encoding="utf-8") for d in ARTICLE_DIRS if d.is_dir() for p in sorted(d.glob("*.txt"))}
    if not found:
        searched = ", ".join(str(d / "*.txt") for d in ARTICLE_DIRS)
        pytest.fail(f"No article found; searched {searched}. Copy the clinic's article into corpus/.")
    return found


def _records() -> list[dict]:
    if not QUESTIONS.is_file():
        pytest.fail(f"{QUESTIONS} is missing")
    records = []
    for n, line in enumerate(QUESTIONS.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            pytest.fail(f"{QUESTIONS.name} line {n} is not valid JSON: {exc}")
    return records


def _plain(s: str) -> str:
    """Straight quotes and plain spaces, only to explain a failed verbatim match."""
    return s.translate(str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "\u00a0": " "}))


def test_every_record_has_the_required_fields_and_types():
    problems = []
    for r in _records():
        rid = r.get("id", "?")
        missing = [f for f in REQUIRED if f not in r]
        if missing:
            problems.append(f"{rid}: missing {missing}")
            continue
        if r["category"] not in MIN_COUNTS:
            problems.append(f"{rid}: unknown category {r['category']!r}")
        if not isinstance(r["question"], str) or not r["question"].strip():
            problems.append(f"{rid}: empty question")
        if r["answerable"] is not (r["category"] in ANSWERABLE):
            problems.append(f"{rid}: answerable={r['answerable']!r} does not fit category {r['category']}")
        facts = r["key_facts"]
        if not isinstance(facts, list) or not all(
            isinstance(f, list) and f and all(isinstance(p, str) and p.strip() for p in f) for f in facts
        ):
            problems.append(f"{rid}: key_facts must be a list of non-empty lists of strings")
        if not isinstance(r["evidence"], list) or not all(isinstance(e, str) and e for e in r["evidence"]):
            problems.append(f"{rid}: evidence must be a list of non-empty strings")
        for turn in r.get("history") or []:
            if not (isinstance(turn, dict) and turn.get("role") in {"user", "assistant"} and turn.get("content")):
                problems.append(f"{rid}: bad history turn {turn!r}")
    assert not problems, "\n".join(problems)


def test_ids_are_unique():
    counts = Counter(r.get("id") for r in _records())
    dupes = sorted(str(i) for i, c in counts.items() if c > 1)
    assert not dupes, f"duplicate ids: {dupes}"


def test_each_category_has_enough_questions():
    counts = Counter(r.get("category") for r in _records())
    short = {c: f"{counts[c]} < {m}" for c, m in MIN_COUNTS.items() if counts[c] < m}
    assert not short, f"too few questions: {short}"


def test_answerable_items_carry_facts_and_evidence_and_others_none():
    problems = []
    for r in _records():
        if r.get("category") in ANSWERABLE:
            if not r.get("key_facts") or not r.get("evidence"):
                problems.append(f"{r.get('id')}: answerable but no key_facts or no evidence")
        elif r.get("key_facts") or r.get("evidence"):
            problems.append(f"{r.get('id')}: {r.get('category')} item should have empty key_facts and evidence")
    assert not problems, "\n".join(problems)


def test_followups_have_history():
    empty = [r.get("id") for r in _records() if r.get("category") == "followup" and not r.get("history")]
    assert not empty, f"followup items without history: {empty}"


def test_evidence_occurs_verbatim_in_the_article():
    articles = _articles()
    problems = []
    for r in _records():
        for ev in r.get("evidence") or []:
            if any(ev in text for text in articles.values()):
                continue
            hint = ""
            if any(_plain(ev) in _plain(text) for text in articles.values()):
                hint = " (matches after normalising quotes/no-break spaces: copy the article's exact characters)"
            problems.append(f"{r.get('id')}: evidence not in article{hint}: {ev!r}")
    searched = ", ".join(str(p) for p in articles)
    assert not problems, f"searched {searched}\n" + "\n".join(problems)


def test_first_phrasing_of_each_key_fact_occurs_in_the_article():
    articles = [t.casefold() for t in _articles().values()]
    problems = []
    for r in _records():
        if r.get("category") not in ANSWERABLE:
            continue
        for fact in r.get("key_facts") or []:
            if fact and not any(fact[0].casefold() in t for t in articles):
                problems.append(f"{r.get('id')}: key fact {fact[0]!r} not in article")
    assert not problems, "\n".join(problems)
