"""The learned crisis detector: logistic regression over sentence embeddings and character
n-grams, averaged with MiniLM fine-tuned on the same file (``encoder.py``) when it was trained.

Why a second detector: the rules match wordings someone foresaw; a person in crisis writes
in their own ("there's a loaded gun in my drawer", "I can't promise I'll be safe tonight").
Sentence embeddings (the packaged MiniLM, already loaded for retrieval) place such messages
near training examples of the same risk whatever the words; character n-grams (TF-IDF) add
what the embedder reads badly: misspellings ("sucidal agian"), slang and the romanised Hindi
or Spanish it was never trained on; word unigrams and bigrams (TF-IDF) add short phrases whose
words matter together ("the package", "last legs"), which raised out-of-fold recall at the same
false-crisis rate by about two points. One linear model over all three, trained at start-up from
``data/crisis_train.jsonl`` (examples organised by risk category, with hard negatives:
questions about suicide as a topic, idioms, medication questions) in about a second once the
training vectors are cached; nothing is downloaded. The fine-tuned encoder reads risk where
the frozen embedding reads topic; the two averaged catch more crises than either alone.

The threshold is chosen on held-out scores, never on the frozen test files in ``eval/safety/``:
for the logistic regression alone, 5-fold out-of-fold scores of the training file, the lowest
threshold at which the rules and the classifier together mistake at most 5% of the held-out
safe examples for a crisis; for the average, see ``_threshold_report``. A lower ``watch``
threshold marks messages with a risk signal: their refusals and answers carry the crisis lines.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..embedding import Embedder
from .encoder import CrisisEncoder, encoder_dir

__all__ = ["DATA_FILE", "CrisisClassifier", "load_examples"]

log = logging.getLogger("rag.safety")
DATA_FILE = Path(__file__).with_name("data") / "crisis_train.jsonl"
SEED = 0
FOLDS = 5
# Chosen on the out-of-fold scores of the training file (see README, "Safety and privacy").
C = 16.0  # inverse regularisation
NGRAMS = (2, 5)  # character n-grams within word boundaries
WORDS = (1, 2)  # word n-grams
MAX_FALSE_CRISIS = 0.05  # out-of-fold false-crisis rate (rules and classifier together) allowed
WATCH_RATIO = 0.5  # the risk-signal threshold, as a share of the crisis threshold
_FITTED: dict[str, tuple] = {}  # trained models of this process, by data, rules, embedder and budget
_ENCODERS: dict[Path, CrisisEncoder] = {}  # fine-tuned encoders this process loaded, by folder
VERSION = 6  # bump when the features or the training change: cached thresholds are then recomputed


def load_examples(path: Path = DATA_FILE) -> tuple[list[str], np.ndarray, list[str]]:
    """Texts, labels (True = crisis) and categories of a JSONL file of
    ``{"text", "label": "crisis"|"safe", "category"}`` lines."""
    texts, labels, cats = [], [], []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if row.get("label") not in ("crisis", "safe") or not str(row.get("text", "")).strip():
            raise ValueError(f"{path}:{n}: each line needs a text and a label 'crisis' or 'safe'")
        texts.append(row["text"])
        labels.append(row["label"] == "crisis")
        cats.append(row.get("category", ""))
    return texts, np.array(labels, dtype=bool), cats


class _Model:
    """TF-IDF character and word n-grams beside the sentence embedding, one logistic regression over all."""

    def __init__(self, texts: list[str], vecs: np.ndarray, labels: np.ndarray):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self.ngrams = TfidfVectorizer(analyzer="char_wb", ngram_range=NGRAMS, sublinear_tf=True, min_df=2)
        self.words = TfidfVectorizer(analyzer="word", ngram_range=WORDS, sublinear_tf=True)
        features = self._features(self.ngrams.fit_transform(texts), self.words.fit_transform(texts), vecs)
        self.lr = LogisticRegression(C=C, class_weight="balanced", max_iter=3000, random_state=SEED)
        self.lr.fit(features, labels)

    @staticmethod
    def _features(grams, words, vecs: np.ndarray):
        from scipy.sparse import csr_matrix, hstack

        return hstack([grams, words, csr_matrix(vecs)]).tocsr()

    def proba(self, texts: list[str], vecs: np.ndarray) -> np.ndarray:
        return self.lr.predict_proba(self._features(self.ngrams.transform(texts), self.words.transform(texts),
                                                    vecs))[:, 1]


@dataclass
class CrisisClassifier:
    embedder: Embedder
    model: _Model
    threshold: float
    watch: float
    report: dict = field(default_factory=dict)  # held-out figures, for the evaluation report
    encoder: CrisisEncoder | None = None  # the fine-tuned encoder, averaged in when it was trained

    def score(self, message: str) -> float:
        """Crisis probability of one message: the logistic regression's, averaged with the
        fine-tuned encoder's when there is one."""
        p = float(self.model.proba([message], self.embedder.embed([message]))[0])
        return (p + float(self.encoder.score([message])[0])) / 2 if self.encoder else p

    @classmethod
    def fit(cls, embedder: Embedder, data_file: Path = DATA_FILE, cache_dir: Path | None = None,
            rules: Callable[[str], bool] | None = None,
            max_false_crisis: float = MAX_FALSE_CRISIS, use_encoder: bool = True) -> CrisisClassifier:
        """Train on ``data_file``; ``rules`` (the gate's crisis rules) shares the false-crisis
        budget when the threshold is chosen. The threshold is cached with the training vectors.
        With ``use_encoder``, the fine-tuned encoder trained on the same file (``make
        crisis-model``, found in ``cache_dir``) is averaged in."""
        encoder = _find_encoder(data_file, cache_dir) if use_encoder else None
        tag = f"|{max_false_crisis}|{rules is not None}|{encoder.fingerprint if encoder else '-'}"
        key = _key(data_file, embedder) + tag
        if key in _FITTED:  # another pipeline in this process trained the same model already
            model, report = _FITTED[key]
            return cls(embedder, model, report["threshold"], report["threshold"] * WATCH_RATIO, report, encoder)
        texts, labels, cats = load_examples(data_file)
        vecs = _training_vectors(embedder, texts, data_file, cache_dir)
        report = _cached_report(data_file, embedder, cache_dir, tag)
        if report is None:
            report = _threshold_report(texts, vecs, labels, rules, max_false_crisis, encoder)
            _save_report(report, data_file, embedder, cache_dir, tag)
        threshold = report["threshold"]
        model = _Model(texts, vecs, labels)
        _FITTED[key] = (model, report)
        return cls(embedder, model, threshold, threshold * WATCH_RATIO, report, encoder)


def _threshold_report(texts: list[str], vecs: np.ndarray, labels: np.ndarray, rules: Callable[[str], bool] | None,
                      max_false_crisis: float, encoder: CrisisEncoder | None) -> dict:
    """The threshold and the held-out figures it was chosen on.

    Alone, the logistic regression's threshold is chosen on out-of-fold scores of the whole
    training file. With the encoder, only the fifth the encoder never saw is held out for the
    average; a fifth is too few safe examples to place a 5% budget well (its share of hard
    examples varies), so the average's threshold is the one that, on that fifth, mistakes no
    more safe examples than the logistic regression's whole-file threshold does there."""
    ruled = np.array([bool(rules(t)) for t in texts]) if rules else np.zeros(len(texts), dtype=bool)
    scores = out_of_fold_scores(texts, vecs, labels)
    threshold = choose_threshold(scores, labels, max_false_crisis, ruled)
    held, budget = np.arange(len(texts)), max_false_crisis
    if encoder is not None:
        held, encoder_scores = encoder.validation
        safe = ~labels[held]
        budget = float(((scores[held] >= threshold) | ruled[held])[safe].mean()) + 1e-9
        scores = (scores[held] + encoder_scores) / 2
        threshold = choose_threshold(scores, labels[held], budget, ruled[held])
    y, ruled = labels[held], ruled[held]
    hits = (scores >= threshold) | ruled
    return {"examples": int(len(labels)), "crisis": int(labels.sum()), "threshold": threshold,
            "encoder": encoder.fingerprint if encoder else None, "held_out": int(len(held)),
            "false_crisis_budget": budget,
            "classifier_recall": float((scores[y] >= threshold).mean()),
            "classifier_false_crisis": float((scores[~y] >= threshold).mean()),
            "rules_recall": float(ruled[y].mean()), "rules_false_crisis": float(ruled[~y].mean()),
            "combined_recall": float(hits[y].mean()), "combined_false_crisis": float(hits[~y].mean())}


def _find_encoder(data_file: Path, cache_dir: Path | None) -> CrisisEncoder | None:
    """The fine-tuned encoder for ``data_file`` in ``cache_dir``, if it was trained and matches."""
    if cache_dir is None:
        return None
    folder = encoder_dir(cache_dir, data_file).resolve()
    encoder = _ENCODERS.get(folder) or CrisisEncoder.load(folder)
    data_sha = hashlib.sha256(Path(data_file).read_bytes()).hexdigest()
    if encoder is not None and encoder.manifest.get("data_sha256") != data_sha:
        log.warning("the crisis encoder in %s was trained on other data; not used", cache_dir)
        return None
    if encoder is not None:
        _ENCODERS[folder] = encoder
    return encoder


def out_of_fold_scores(texts: list[str], vecs: np.ndarray, labels: np.ndarray, folds: int = FOLDS) -> np.ndarray:
    """Each example scored by a model that never saw it (stratified folds, fixed seed)."""
    from sklearn.model_selection import StratifiedKFold

    oof = np.zeros(len(labels))
    for train, held in StratifiedKFold(folds, shuffle=True, random_state=SEED).split(vecs, labels):
        model = _Model([texts[i] for i in train], vecs[train], labels[train])
        oof[held] = model.proba([texts[i] for i in held], vecs[held])
    return oof


def choose_threshold(scores: np.ndarray, labels: np.ndarray, max_false_crisis: float,
                     ruled: np.ndarray | None = None) -> float:
    """The lowest threshold at which the classifier, with the rules (``ruled``), takes at most
    ``max_false_crisis`` of the safe examples for a crisis; no higher than needed to catch every
    crisis example the rules miss."""
    ruled = np.zeros(len(scores), dtype=bool) if ruled is None else ruled
    missed_by_rules = scores[labels & ~ruled]
    catch_all = float(missed_by_rules.min()) if len(missed_by_rules) else 1.0
    safe = np.sort(scores[~labels & ~ruled])[::-1]
    allowed = int(np.floor(max_false_crisis * (~labels).sum())) - int((~labels & ruled).sum())
    if allowed < 0:
        return 1.0
    budget_floor = float(safe[allowed]) + 1e-6 if allowed < len(safe) else 0.0
    return min(catch_all, 1.0) if catch_all >= budget_floor else budget_floor


def _key(data_file: Path, embedder: Embedder) -> str:
    from .rules import RULES_FILE

    settings = f"{embedder.model_id}|{VERSION}|{C}|{NGRAMS}|{WORDS}"
    blob = data_file.read_bytes() + RULES_FILE.read_bytes() + settings.encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _report_path(data_file: Path, embedder: Embedder, cache_dir: Path, tag: str) -> Path:
    key = hashlib.sha256((_key(data_file, embedder) + tag).encode()).hexdigest()[:16]
    return Path(cache_dir) / f"crisis-threshold-{key}.json"


def _cached_report(data_file: Path, embedder: Embedder, cache_dir: Path | None, tag: str) -> dict | None:
    if cache_dir is None:
        return None
    path = _report_path(data_file, embedder, cache_dir, tag)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _save_report(report: dict, data_file: Path, embedder: Embedder, cache_dir: Path | None, tag: str) -> None:
    if cache_dir is None:
        return
    try:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        _report_path(data_file, embedder, cache_dir, tag).write_text(
            json.dumps(report), encoding="utf-8")
    except OSError:
        log.warning("could not cache the crisis threshold in %s", cache_dir)


def _training_vectors(embedder: Embedder, texts: list[str], data_file: Path, cache_dir: Path | None) -> np.ndarray:
    """Embeddings of the training texts, cached by data and model so a start takes milliseconds."""
    key = hashlib.sha256(data_file.read_bytes() + embedder.model_id.encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"crisis-vectors-{key}.npy" if cache_dir else None
    if path is not None and path.exists():
        try:
            cached = np.load(path)
            if cached.shape == (len(texts), embedder.dim):
                return cached
        except (OSError, ValueError):
            log.warning("crisis training vectors at %s unreadable; re-embedding", path)
    vecs = embedder.embed(texts)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.npy")
            np.save(tmp, vecs)
            tmp.replace(path)
        except OSError:
            log.warning("could not cache crisis training vectors in %s", path.parent)
    return vecs
