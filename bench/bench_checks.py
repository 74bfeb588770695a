"""What the judgements that protect patients cost per message: the crisis classifier beside the
rules, the meaning-level claim check beside the old vocabulary check, and the answer scorer's
answerability decision beside the rules' decision.

    python -m bench.bench_checks [--messages 200] [--repeats 3]

Baselines run in the same process on the same inputs: the gate with the rules alone, the
vocabulary check, and the answerability rules without the scorer. Figures are medians over
messages (each the best of ``--repeats``).
"""

from __future__ import annotations

import argparse
import time

import bench.common  # noqa: F401 - puts the repo on sys.path
from bench.common import median, pct, table


def _timed(fn, items, repeats: int) -> list[float]:
    out = []
    for item in items:
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn(item)
            best = min(best, time.perf_counter() - t0)
        out.append(best * 1e3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import torch

    from rag.config import Settings
    from rag.embedding import make_embedder
    from rag.safety import CrisisClassifier, SafetyGate, crisis_rules_fire
    from rag.safety.classifier import load_examples
    from rag.safety.measure import TEST_FILE
    from rag.safety.messages import default_messages
    from rag.verify.benchmark import CLAIMS_DIR, load_claims, new_check, vocabulary_check

    torch.set_num_threads(1)
    settings = Settings()
    embedder = make_embedder(settings.embedder)
    t0 = time.perf_counter()
    clf = CrisisClassifier.fit(embedder, cache_dir=settings.cache_dir, rules=crisis_rules_fire)
    fit_s = time.perf_counter() - t0
    lr_only = CrisisClassifier.fit(embedder, cache_dir=settings.cache_dir, rules=crisis_rules_fire, use_encoder=False)
    messages = load_examples(TEST_FILE)[0][: args.messages]
    rules_gate, full_gate = SafetyGate(default_messages()), SafetyGate(default_messages(), clf)
    lr_gate = SafetyGate(default_messages(), lr_only)
    for m in messages[:5]:
        full_gate.assess(m)  # warm the embedder and the language model's tables
    lr_ms = _timed(lambda m: lr_gate.assess(m + "   "), messages, 1)
    rules_ms = _timed(rules_gate.assess, messages, args.repeats)
    full_ms = _timed(lambda m: full_gate.assess(m + " "), messages, 1)  # a message the embedder has not seen
    embed_ms = _timed(lambda m: embedder.embed([m + "  "]), messages, 1)
    # What answering pays: the gate, then the retriever embedding the same message (remembered).
    answer_rules = _timed(lambda m: (rules_gate.assess(m), embedder.embed([m + "\t"])), messages, 1)
    answer_full = _timed(lambda m: (full_gate.assess(m + "\n"), embedder.embed([m + "\n"])), messages, 1)
    claims = load_claims(CLAIMS_DIR / "test.jsonl")
    old_ms = _timed(lambda r: vocabulary_check(r["claim"], r["source"]), claims, args.repeats)
    new_ms = _timed(lambda r: new_check(r["claim"], r["source"]), claims, args.repeats)
    base = median(rules_ms)
    print("## Safety gate per message (frozen crisis test messages, one thread)\n")
    print(table(["gate", "median ms", "p95 ms", "vs rules only"], [
        ["rules only (baseline)", f"{base:.2f}", f"{pct(rules_ms, .95):.2f}", "1.00x"],
        ["rules + logistic regression", f"{median(lr_ms):.2f}", f"{pct(lr_ms, .95):.2f}",
         f"{median(lr_ms) / base:.2f}x"],
        ["rules + classifier" + (" (with the fine-tuned encoder)" if clf.encoder else ""), f"{median(full_ms):.2f}",
         f"{pct(full_ms, .95):.2f}", f"{median(full_ms) / base:.2f}x"],
        ["of which: one MiniLM embedding", f"{median(embed_ms):.2f}", f"{pct(embed_ms, .95):.2f}", ""],
    ]))
    added = median(answer_full) - median(answer_rules)
    print("\n## What answering a message pays: gate, then the retriever's embedding of the same message\n")
    print(table(["gate", "median ms", "p95 ms", "vs rules only"], [
        ["rules only + retriever embedding (baseline)", f"{median(answer_rules):.2f}",
         f"{pct(answer_rules, .95):.2f}", "1.00x"],
        ["rules + classifier + retriever embedding", f"{median(answer_full):.2f}", f"{pct(answer_full, .95):.2f}",
         f"{median(answer_full) / median(answer_rules):.2f}x"],
    ]))
    print(f"\nThe classifier adds {added:.1f} ms to answering a message (median): the retriever reuses the "
          f"embedding the classifier made. Training at start-up took "
          f"{fit_s:.1f} s here (training vectors {'cached' if fit_s < 2 else 'embedded: a first start'}).")
    _answerability(settings, args)
    print(f"\n## Claim check per sentence ({len(claims)} claims of eval/claims/test.jsonl)\n")
    print(table(["check", "median ms", "p95 ms", "vs old"], [
        ["old vocabulary check (baseline)", f"{median(old_ms):.3f}", f"{pct(old_ms, .95):.3f}", "1.00x"],
        ["meaning-level claim check", f"{median(new_ms):.3f}", f"{pct(new_ms, .95):.3f}",
         f"{median(new_ms) / median(old_ms):.2f}x"],
    ]))


def _answerability(settings, args) -> None:
    """The answerability decision per question, on sentences already retrieved and ranked."""
    import json

    from rag.grounding import rank_sentences
    from rag.prompting import build_prompt
    from rag.service import build_pipeline

    pipeline = build_pipeline(settings.with_overrides(generator="extractive"))
    judge = pipeline.answerability
    if judge.scorer is None:
        print("\n(no trained answer scorer: run `make answer-model` to measure it)")
        return
    path = settings.corpus_dir.parent / "eval" / "fresh" / "dev4.jsonl"
    questions = [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines()]
    cases = []
    for q in questions[: args.messages]:
        r = pipeline.retriever.search(q)
        sources = [h.chunk for h in build_prompt(q, r.hits, [], settings.prompt_token_budget).sources]
        cases.append((q, rank_sentences(r.query_vector, sources, pipeline.embedder.embed, q, pipeline.titles,
                                        pipeline.hubness)))
    scorer = judge.scorer
    judge.scorer = None
    rules_ms = _timed(lambda c: judge.decide(c[0], c[1]), cases, args.repeats)
    judge.scorer = scorer
    for c in cases[:3]:
        judge.decide(c[0], c[1])  # warm up
    scored_ms = _timed(lambda c: judge.decide(c[0], c[1]), cases, 1)
    print(f"\n## Answerability decision per question ({len(cases)} questions of eval/fresh/dev4.jsonl, one thread)\n")
    print(table(["decision", "median ms", "p95 ms", "vs rules"], [
        ["rules alone (baseline)", f"{median(rules_ms):.2f}", f"{pct(rules_ms, .95):.2f}", "1.00x"],
        ["answer scorer (12 sentences read with the question)", f"{median(scored_ms):.2f}",
         f"{pct(scored_ms, .95):.2f}", f"{median(scored_ms) / median(rules_ms):.2f}x"],
    ]))


if __name__ == "__main__":
    main()
