"""The claim-verification benchmark: how often each check accepts false and true claims.

``eval/claims/dev.jsonl`` is what the checker was built on, ``eval/claims/dev2.jsonl`` (four
more passages, another author) what its later rewrites were built on, ``eval/claims/dev3.jsonl``
(four more, a third author) what its parse-based pronoun reading was built on; ``eval/claims/test.jsonl``
was written by another author before the checker was tuned and is only measured; so is
``eval/claims/test2.jsonl`` (six more passages, a fourth author, dropped conditions a kind of their
own), written after the parse-based pronoun reading and before the dropped-restriction veto. Each line is
``{"claim", "source", "supported", "kind"}``. The figures that matter: false claims accepted
(overall and for each kind of falsehood) and true claims accepted (for verbatim clauses and
compressions, what a copying decoder writes, and separately for paraphrases and reorderings).
The old vocabulary check is scored beside the new one on the same items.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from ..types import Chunk
from .checker import verify
from .lexicon import lexicon
from .tokens import tokenize

__all__ = ["CLAIMS_DIR", "load_claims", "score", "vocabulary_check"]

CLAIMS_DIR = Path(__file__).resolve().parents[2] / "eval" / "claims"
COPYING = ("verbatim", "compression")  # what a decoder that copies source clauses writes


def load_claims(path: Path) -> list[dict]:
    rows = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            row = json.loads(line)
            if not isinstance(row.get("claim"), str) or not isinstance(row.get("source"), str):
                raise ValueError(f"{path}:{n}: each line needs a claim and a source")
            rows.append(row)
    return rows


def only_source_words(claim: str, source: str) -> bool:
    """Every word of the claim but function words and auxiliaries occurs in the source (same stem)."""
    words = lexicon()
    have = {t.key for t in tokenize(source)}
    return all(t.key in have for t in tokenize(claim) if not t.punct and t.text not in words.function
               and t.text not in words.auxiliary)


def vocabulary_check(claim: str, source: str) -> bool:
    """The check this replaced: every content word, number and negation found in the source."""
    from ..grounding import lexical_support

    chunk = Chunk("bench", "bench", 0, len(source), source)
    return lexical_support(claim, chunk).ok


def new_check(claim: str, source: str) -> bool:
    return verify(claim, source).supported


def score(rows: list[dict], check: Callable[[str, str], bool]) -> dict:
    """Acceptance by kind, false-accept and true-accept rates, and the median time a claim."""
    by_kind: dict[str, list[bool]] = defaultdict(list)
    truth: dict[str, bool] = {}
    times = []
    accepted_false = []
    results = []
    for row in rows:
        t0 = time.perf_counter()
        ok = check(row["claim"], row["source"])
        times.append(time.perf_counter() - t0)
        results.append(ok)
        by_kind[row.get("kind", "")].append(ok)
        truth[row.get("kind", "")] = bool(row["supported"])
        if ok and not row["supported"]:
            accepted_false.append({"id": row.get("id"), "kind": row.get("kind"), "claim": row["claim"]})
    false_rows = [ok for k, oks in by_kind.items() if not truth[k] for ok in oks]
    true_rows = [ok for k, oks in by_kind.items() if truth[k] for ok in oks]
    copying = [ok for k in COPYING for ok in by_kind.get(k, [])]
    # Of those, the ones a copying decoder can write at all: every word of the claim is in its source.
    own_words = [ok for row, ok in zip(rows, results, strict=True) if row.get("kind") in COPYING
                 and row["supported"] and only_source_words(row["claim"], row["source"])]
    other_true = [ok for k, oks in by_kind.items() if truth[k] and k not in COPYING for ok in oks]
    times.sort()
    return {
        "n": len(rows), "false_claims": len(false_rows), "true_claims": len(true_rows),
        "false_accept": _share(false_rows), "true_accept": _share(true_rows),
        "true_accept_copying": _share(copying), "true_accept_paraphrase": _share(other_true),
        "true_accept_copying_source_words": _share(own_words), "copying_source_words_n": len(own_words),
        "worst_false_kind": max((_share(oks), k) for k, oks in by_kind.items() if not truth[k])[1]
        if false_rows else None,
        "by_kind": {k: {"supported": truth[k], "n": len(oks), "accepted": _share(oks)}
                    for k, oks in sorted(by_kind.items())},
        "median_ms": 1e3 * times[len(times) // 2] if times else None,
        "accepted_false": accepted_false,
    }


def _share(oks: list[bool]) -> float | None:
    return sum(oks) / len(oks) if oks else None


def benchmark(paths: dict[str, Path] | None = None) -> dict:
    """Both checks on each part that exists: {"dev": {"new": ..., "old": ...}, "test": ...}."""
    paths = paths or {"dev": CLAIMS_DIR / "dev.jsonl", "dev2": CLAIMS_DIR / "dev2.jsonl",
                      "dev3": CLAIMS_DIR / "dev3.jsonl",
                      "test": CLAIMS_DIR / "test.jsonl", "test2": CLAIMS_DIR / "test2.jsonl"}
    out = {}
    for part, path in paths.items():
        if Path(path).is_file():
            rows = load_claims(path)
            out[part] = {"new": score(rows, new_check), "old": score(rows, vocabulary_check)}
    return out
