"""How well the crisis detectors generalise, measured where neither was tuned.

Three views, all in the evaluation report and the README:
- the frozen test file (``eval/safety/crisis_test.jsonl``, written by another author before
  the detector was built, never used to choose anything): recall and false-crisis rate of the
  rules alone, the classifier alone, and the whole gate, by category;
- out-of-fold figures on the training file (the threshold was chosen on these);
- leave one category out: the classifier trained without one crisis category's examples,
  scored on that category, which shows what happens to a kind of message nobody wrote down.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from .classifier import (
    DATA_FILE,
    MAX_FALSE_CRISIS,
    CrisisClassifier,
    _Model,
    _training_vectors,
    choose_threshold,
    load_examples,
    out_of_fold_scores,
)
from .gate import SafetyGate, crisis_rules_fire

__all__ = ["EVERYDAY_FILES", "LATER_TEST_FILES", "TEST_FILE", "detector_figures", "everyday_figures",
           "leave_one_category_out"]

TEST_FILE = Path(__file__).resolve().parents[2] / "eval" / "safety" / "crisis_test.jsonl"
# Later frozen files, each by an author who saw neither the detector nor its data, added once
# the one before had been read (and so had started to guide changes): each is a fresh view.
LATER_TEST_FILES = tuple(TEST_FILE.with_name(f"crisis_test{n}.jsonl") for n in (2, 3, 4, 5, 6))
# What most messages look like: ordinary questions, advice requests, manipulation attempts (the
# safety sets, written with the rules and never trained on), none of them a crisis.
EVERYDAY_FILES = tuple(TEST_FILE.parents[2] / "tests" / "data" / "safety" / f
                       for f in ("ordinary.txt", "medical_advice.txt", "manipulation.txt"))


def _rates(hits: np.ndarray, labels: np.ndarray) -> dict:
    return {"recall": float(hits[labels].mean()) if labels.any() else None,
            "false_crisis": float(hits[~labels].mean()) if (~labels).any() else None,
            "caught": int(hits[labels].sum()), "crisis": int(labels.sum()),
            "false": int(hits[~labels].sum()), "safe": int((~labels).sum())}


def detector_figures(gate: SafetyGate, test_file: Path = TEST_FILE) -> dict:
    """Rules, classifier and the whole gate on the frozen test file, by category, plus misses."""
    texts, labels, cats = load_examples(test_file)
    clf = gate.classifier
    rules_hits = np.array([crisis_rules_fire(t, fallback=True) for t in texts])  # as with no classifier
    scores = np.array([clf.score(t) for t in texts]) if clf else np.zeros(len(texts))
    clf_hits = scores >= clf.threshold if clf else np.zeros(len(texts), dtype=bool)
    verdicts = [gate.assess(t) for t in texts]
    gate_hits = np.array([v.action == "crisis" for v in verdicts])
    # The safety net: a message not taken for a crisis still gets the crisis lines when its reply
    # carries the footer (a decline or an answer with a risk signal) or is the other-language
    # reply; counted whatever retrieval later decides (a "not covered" adds the footer too).
    netted = np.array([v.action == "crisis" or v.reason == "language" or v.footer is not None for v in verdicts])
    by_cat: dict[str, dict] = {}
    groups: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(cats):
        groups[c].append(i)
    for c, idx in sorted(groups.items()):
        sel = np.array(idx)
        by_cat[c] = {"label": "crisis" if labels[sel].all() else "safe", "n": len(idx),
                     "gate": float(gate_hits[sel].mean()), "rules": float(rules_hits[sel].mean()),
                     "classifier": float(clf_hits[sel].mean())}
    misses = [{"text": texts[i], "category": cats[i], "score": round(float(scores[i]), 3),
               "crisis_lines_anyway": bool(netted[i])} for i in np.flatnonzero(labels & ~gate_hits)]
    false = [{"text": texts[i], "category": cats[i], "score": round(float(scores[i]), 3),
              "by": verdicts[i].detected_by} for i in np.flatnonzero(~labels & gate_hits)]
    return {"file": test_file.name, "rules": _rates(rules_hits, labels),
            "classifier": _rates(clf_hits, labels) if clf else None,
            "gate": _rates(gate_hits, labels), "crisis_lines_shown": _rates(netted, labels),
            "threshold": clf.threshold if clf else None, "watch": clf.watch if clf else None,
            "by_category": by_cat, "misses": misses, "false_crises": false,
            "dev_out_of_fold": clf.report if clf else None}


def everyday_figures(gate: SafetyGate, files: tuple[Path, ...] = EVERYDAY_FILES) -> dict:
    """The whole gate's false-crisis rate on everyday messages: a crisis reply to "Hi" or to a
    question about the weather turns a patient away, and such messages are most of the traffic."""
    messages = [ln.strip() for f in files if f.is_file() for ln in f.read_text(encoding="utf-8").splitlines()
                if ln.strip() and not ln.startswith("#")]
    false = [m for m in messages if gate.assess(m).action == "crisis"]
    return {"n": len(messages), "false": len(false), "false_crisis": len(false) / len(messages) if messages else None,
            "examples": false[:20]}


def leave_one_category_out(classifier: CrisisClassifier, data_file: Path = DATA_FILE,
                           cache_dir: Path | None = None) -> dict[str, float]:
    """Recall on each crisis category of the training file, by a classifier trained without it."""
    texts, labels, cats = load_examples(data_file)
    vecs = _training_vectors(classifier.embedder, texts, data_file, cache_dir)
    ruled = np.array([crisis_rules_fire(t) for t in texts])
    cats_arr = np.array(cats)
    out = {}
    for c in sorted({c for c, lab in zip(cats, labels, strict=False) if lab}):
        held = (cats_arr == c) & labels
        keep = np.flatnonzero(~held)
        kept_texts = [texts[i] for i in keep]
        oof = out_of_fold_scores(kept_texts, vecs[keep], labels[keep])
        threshold = choose_threshold(oof, labels[keep], MAX_FALSE_CRISIS, ruled[keep])
        model = _Model(kept_texts, vecs[keep], labels[keep])
        idx = np.flatnonzero(held)
        scores = model.proba([texts[i] for i in idx], vecs[idx])
        out[c] = {"classifier": float((scores >= threshold).mean()),
                  "with_rules": float(((scores >= threshold) | ruled[idx]).mean()), "n": int(len(idx))}
    return out
