"""The packaged models, for real: MiniLM embeddings and SmolLM2-135M through transformers.

Slow (the first run converts the GGUF weights, about a minute), so marked ``slow``; CI runs them.
"""

from __future__ import annotations

import pytest

from rag.config import Settings
from rag.service import build_pipeline

pytestmark = pytest.mark.slow

# (question, a phrase the answer must contain)
ARTICLE_QUESTIONS = [
    ("How quickly does ketamine start working?", "hours to days"),
    ("Which receptor does ketamine act on?", "NMDA"),
    ("What is treatment-resistant depression?", "does not respond adequately"),
    ("Is ketamine safe?", "well-tolerated"),
    ("Can you get addicted to ketamine?", "dependence"),
    ("What is the active compound in magic mushrooms?", "Psilocybin"),
    ("What is MDMA-assisted therapy used for?", "PTSD"),
    ("Are psychedelics legal?", "Schedule I"),
    ("Do the effects of a single ketamine dose last?", "transient"),
    ("How can I contact the clinic?", "psychiatristdrakhildhanda.com"),
    ("What challenges remain for ketamine and psychedelic therapies?", "protocols"),
]
NOT_COVERED = [
    "How much does a ketamine infusion cost?",
    "Is esketamine nasal spray FDA approved?",
    "Does ketamine raise blood pressure?",
    "Is TMS better than ketamine?",
    "What are the clinic's opening hours?",
]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    root = tmp_path_factory.mktemp("real")
    settings = Settings(index_dir=root / "index", cache_dir=root / "cache", _env_file=None)
    return build_pipeline(settings, warm=True)


def check_citations(answer, pipeline):
    assert answer.citations
    for c in answer.citations:
        doc = pipeline.store.documents[c.doc_id]
        assert doc.text[c.start : c.end] == c.quote, "quote must be verbatim at its offsets"
        assert f"[{c.n}]" in answer.answer


@pytest.mark.parametrize("question,fact", ARTICLE_QUESTIONS)
def test_article_questions_are_answered_with_the_fact_and_verbatim_quotes(pipeline, question, fact):
    answer = pipeline.ask(question)
    assert answer.status == "answered", answer
    assert fact.lower() in answer.answer.lower(), answer.answer
    check_citations(answer, pipeline)


def eval_questions(limit: int) -> list[tuple[str, list]]:
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "eval" / "questions.jsonl"
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(i["question"], i.get("history") or []) for i in items if i["category"] == "factual"][:limit]


def test_twenty_patient_questions_every_sentence_supported_by_its_verbatim_quote(pipeline):
    """Independent of the pipeline's own check: each sentence's words appear in its quote."""
    import re

    from rag.textnorm import content_stems

    questions = [q for q, _ in ARTICLE_QUESTIONS] + [q for q, _ in eval_questions(12)]
    assert len(questions) >= 20
    for question in questions:
        answer = pipeline.ask(question)
        if answer.status != "answered":
            continue
        check_citations(answer, pipeline)
        quotes = {c.n: set(content_stems(c.quote)) for c in answer.citations}
        sentences = re.findall(r"[^[]+\[\d+\][.!?]?", answer.answer)
        assert "".join(sentences).strip() == answer.answer.strip(), "every sentence carries a citation"
        for sentence in sentences:
            n = int(re.search(r"\[(\d+)\]", sentence).group(1))
            words = set(content_stems(re.sub(r"\[\d+\]", "", sentence)))
            unsupported = words - quotes[n]
            assert len(unsupported) <= max(1, len(words) // 5), (question, sentence, unsupported)


@pytest.mark.parametrize("question", NOT_COVERED)
def test_questions_outside_the_article_are_not_found(pipeline, question):
    answer = pipeline.ask(question)
    assert answer.status == "not_found", answer
    assert answer.citations == []


def test_follow_up_with_real_models(pipeline):
    history = [{"role": "user", "content": "What is ketamine?"},
               {"role": "assistant", "content": "Ketamine is a dissociative anesthetic [1]."}]
    answer = pipeline.ask("How fast does it work?", history)
    assert answer.status == "answered" and "hours to days" in answer.answer


def test_streaming_releases_checked_sentences(pipeline):
    events = list(pipeline.stream("How does ketamine work in the brain?"))
    assert [e.kind for e in events][-2:] == ["citations", "done"]
    answer = events[-1].data
    assert "".join(e.data for e in events if e.kind == "token") == answer.answer
    assert answer.timings_ms["first_token"] <= answer.timings_ms["total"]


def test_converted_weights_are_cached(pipeline):
    generator = pipeline.generator
    from rag.generation import converted_weights_dir
    from rag.onnx_backend import OnnxGenerator

    if isinstance(generator, OnnxGenerator):  # the default runtime: de-quantized once, then converted once
        assert (generator._hf_folder() / "config.json").exists()
        assert (generator.model_dir() / "genai_config.json").exists()
    else:
        assert (converted_weights_dir(generator.gguf, generator.cache_dir) / "config.json").exists()


def test_cli_prints_one_json_answer_per_question(tmp_path):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "CLINIC_INDEX_DIR": str(tmp_path / "index"), "CLINIC_GENERATOR": "extractive"}
    out = subprocess.run([sys.executable, "-m", "rag", "ask", "--json", "Which receptor does ketamine act on?",
                          "How much does ketamine cost?"], capture_output=True, text=True, cwd=root, env=env,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert [a["status"] for a in lines] == ["answered", "not_found"]
    assert "NMDA" in lines[0]["answer"] and lines[0]["citations"][0]["quote"]


def test_ingest_cli_builds_then_reuses_the_index(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    cmd = [sys.executable, "ingest.py", "--index", str(tmp_path / "index"), "--quiet"]
    first = subprocess.run(cmd, capture_output=True, text=True, cwd=root, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "index updated: 1 documents" in first.stdout and "embedded" in first.stdout
    second = subprocess.run(cmd, capture_output=True, text=True, cwd=root, timeout=300)
    assert "index up to date" in second.stdout and "0 embedded" in second.stdout
    bad = subprocess.run([sys.executable, "ingest.py", "--corpus", str(tmp_path / "missing"), "--index",
                          str(tmp_path / "i2")], capture_output=True, text=True, cwd=root, timeout=300)
    assert bad.returncode == 2 and "does not exist" in bad.stderr and "Traceback" not in bad.stderr
