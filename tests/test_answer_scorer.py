"""The answer scorer (rag.answer_scorer): its training pairs, reproducible training, and how the
answerability decision uses it (threshold, quantity kinds, reasons, fallback to the rules)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rag.answer_scorer import (
    DATA_DIR,
    AnswerScorer,
    article_sentences,
    load_pairs,
    scorer_dir,
    split_docs,
    train,
)
from rag.coverage import ANSWER_WEIGHT, Answerability
from rag.grounding import Scored
from tests.fakes import OverlapAnswerScorer

ARTICLE = """Lithium Monitoring

Lithium is a mood stabiliser used mainly for bipolar disorder.

Blood Tests

Levels are usually checked every three months once the dose is stable. Key points include:

  1. Thyroid: Lithium can slow the thyroid, so thyroid tests are done every six months.
  2. Fluids: Dehydration can raise lithium levels, so drinking enough fluids is important.
"""


@pytest.fixture
def data_dir(tmp_path):
    folder = tmp_path / "answers"
    folder.mkdir()
    (folder / "lithium.txt").write_text(ARTICLE, encoding="utf-8")
    rows = [
        {"doc": "lithium", "question": "how often r my levels checked", "answerable": True,
         "answers": ["Levels are usually checked every three months once the dose is stable."]},
        {"doc": "lithium", "question": "does lithium mess with the thyroid", "answerable": True,
         "answers": ["Thyroid: Lithium can slow the thyroid, so thyroid tests are done every six months."]},
        {"doc": "lithium", "question": "is lithium safe in pregnancy", "answerable": False, "answers": []},
        {"doc": "lithium", "question": "what are the key points", "answerable": True,
         "answers": ["Levels are usually checked every three months once the dose is stable. Key points include:"]},
    ]
    (folder / "questions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return folder


def test_articles_are_cut_and_headed_as_the_pipeline_cuts_the_corpus(data_dir):
    sentences = article_sentences(data_dir / "lithium.txt")
    assert "Blood Tests: Levels are usually checked every three months once the dose is stable." in sentences
    assert any(s.startswith("Blood Tests: Thyroid: Lithium can slow") for s in sentences)
    assert not any(s.endswith(":") for s in sentences)  # "Key points include:" is never evidence


def test_training_pairs_hold_the_answer_its_nearest_non_answers_and_unanswerable_negatives(data_dir):
    groups = load_pairs(data_dir)
    by_question = {g[0].question: g for g in groups}
    checked = by_question["how often r my levels checked"]
    assert [p.sentence for p in checked if p.answers] == [
        "Blood Tests: Levels are usually checked every three months once the dose is stable."]
    assert sum(not p.answers for p in checked) >= 2
    assert not any(p.answers for p in by_question["is lithium safe in pregnancy"])
    assert "what are the key points" in by_question  # its lead-in is dropped, the sentence before it stays
    assert all(p.doc == "lithium" for g in groups for p in g)


def test_the_shipped_training_data_names_an_answer_sentence_for_every_answerable_question():
    rows = [json.loads(line) for line in (DATA_DIR / "questions.jsonl").read_text(encoding="utf-8").splitlines()]
    groups = load_pairs(DATA_DIR)
    assert len(groups) >= 0.99 * len(rows)  # at most a few are answered only by a list lead-in
    docs = {r["doc"] for r in rows}
    assert len(docs) >= 40 and all((DATA_DIR / f"{d}.txt").exists() for d in docs)
    answerable = [g for g in groups if any(p.answers for p in g)]
    assert 0.5 < len(answerable) / len(groups) < 0.8
    # The clinic's own article is not among them: the scorer learns the task, not the article.
    assert not any("psychedelic-therapies-for-resistant" in d for d in docs)


def test_the_held_out_articles_are_fixed_by_the_seed():
    docs = [f"doc{i}" for i in range(10)]
    train_docs, held = split_docs(docs)
    assert (train_docs, held) == split_docs(docs) and len(held) == 2 and not train_docs & held
    assert held != split_docs(docs, seed=1)[1]


@pytest.mark.slow
def test_training_twice_gives_the_same_scores(data_dir, tmp_path):
    first = AnswerScorer.load(train(data_dir, tmp_path / "a", epochs=1, threads=1, hold_out=False))
    second = AnswerScorer.load(train(data_dir, tmp_path / "b", epochs=1, threads=1, hold_out=False))
    sentences = article_sentences(data_dir / "lithium.txt")
    a, b = first.score("how often are levels checked", sentences), second.score("how often are levels checked",
                                                                                 sentences)
    assert np.allclose(a, b, atol=1e-5) and ((a > 0) & (a < 1)).all()


def test_a_missing_scorer_is_reported_and_the_rules_decide(tmp_path, caplog):
    assert AnswerScorer.load(tmp_path / "nowhere") is None
    assert "make answer-model" in caplog.text


TEXTS = ["Ketamine acts within hours to days of administration.",
         "Psilocybin is the active compound in magic mushrooms.",
         "Ketamine is generally well tolerated in a controlled medical setting."]


def _ranked(texts=TEXTS):
    return [Scored(1.0 - i / 10, 0, (i * 100, i * 100 + len(t)), t) for i, t in enumerate(texts)]


def test_the_scorer_decides_and_its_answering_sentence_leads_the_evidence():
    scorer = OverlapAnswerScorer()
    judge = Answerability(TEXTS, scorer=scorer, answer_threshold=0.6)
    decision = judge.decide("is ketamine well tolerated", _ranked())
    assert decision.answerable and decision.evidence[0].text == TEXTS[2]
    # ordered by half the scorer's probability (1.0 here), half the ranking score less the best (0.8 - 1.0)
    assert decision.evidence[0].score == pytest.approx(ANSWER_WEIGHT * 1.0 + (1 - ANSWER_WEIGHT) * (0.8 - 1.0))
    assert scorer.calls and scorer.calls[0][0] == "is ketamine well tolerated"


def test_below_the_threshold_it_is_not_covered_and_the_unknown_words_explain_why():
    judge = Answerability(TEXTS, scorer=OverlapAnswerScorer(), answer_threshold=0.6)
    decision = judge.decide("is Spravato covered by insurance", _ranked())
    assert not decision.answerable
    assert "spravato" in decision.reason.lower() and "answer score" in decision.reason


def test_a_quantity_question_needs_an_answering_sentence_that_states_one():
    texts = ["Ketamine sessions are held in a controlled medical setting."]
    judge = Answerability(texts, scorer=OverlapAnswerScorer(), answer_threshold=0.5)
    decision = judge.decide("how long are ketamine sessions", _ranked(texts))
    assert not decision.answerable and decision.reason == "no passage states a duration"
    stated = ["Ketamine sessions last about forty minutes in a controlled medical setting."]
    assert Answerability(stated, scorer=OverlapAnswerScorer(), answer_threshold=0.5).decide(
        "how long are ketamine sessions", _ranked(stated)).answerable


def test_a_follow_up_is_scored_with_what_it_leans_on():
    scorer = OverlapAnswerScorer()
    judge = Answerability(TEXTS, scorer=scorer, answer_threshold=0.5)
    decision = judge.decide("and how fast?", _ranked(), asked="how fast does ketamine act and how fast?")
    assert decision.answerable and scorer.calls[-1][0].startswith("how fast does ketamine act")


@pytest.mark.slow
def test_the_shipped_scorer_tells_an_answer_from_a_near_miss():
    """``make test`` trains the scorer first (``make answer-model``). Questions in a patient's
    words about the clinic's article, which the scorer never saw."""
    from rag.config import Settings

    folder = scorer_dir(Settings(_env_file=None).cache_dir)
    assert (folder / "manifest.json").exists(), "run `make answer-model` first"
    scorer = AnswerScorer.load(folder)
    onset = ("Rapid Onset of Action: Unlike traditional antidepressants, which may take weeks to months to produce "
             "therapeutic effects, ketamine has been shown to induce rapid and robust antidepressant effects "
             "within hours to days of administration.")
    intro = ("In recent years, there has been growing interest in the use of ketamine and psychedelic therapies "
             "as novel approaches to treating resistant depression.")
    good, lead = scorer.score("how fast does ket kick in", [onset, intro])
    assert good > 0.5 > lead
    assert scorer.score("does ketamine make you throw up", [onset])[0] < good
    figures = scorer.manifest["held_out"]
    assert figures["answerable_auc"] > 0.8 and figures["questions"] > 300
