"""The fine-tuned crisis encoder: reproducible training, its held-out fifth, and what happens
when it is missing or was trained on other data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rag.safety.classifier import DATA_FILE, CrisisClassifier, _find_encoder, load_examples
from rag.safety.encoder import CrisisEncoder, encoder_dir, train, validation_split


@pytest.fixture(scope="module")
def small_file(tmp_path_factory):
    """Twenty crisis and twenty safe lines of the training file."""
    rows = [json.loads(line) for line in DATA_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]
    picked = [r for r in rows if r["label"] == "crisis"][:20] + [r for r in rows if r["label"] == "safe"][:20]
    path = tmp_path_factory.mktemp("data") / "small.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in picked), encoding="utf-8")
    return path


def test_the_validation_split_is_fixed_and_disjoint():
    train_idx, val_idx = validation_split(100)
    again = validation_split(100)
    assert np.array_equal(train_idx, again[0]) and np.array_equal(val_idx, again[1])
    assert len(val_idx) == 20 and not set(train_idx) & set(val_idx) and len(train_idx) + len(val_idx) == 100
    assert not np.array_equal(val_idx, validation_split(100, seed=1)[1])


@pytest.mark.slow
def test_training_twice_gives_the_same_model_and_it_scores_its_held_out_fifth(small_file, tmp_path):
    first = train(small_file, tmp_path / "a", epochs=1, threads=1)
    second = train(small_file, tmp_path / "b", epochs=1, threads=1)
    m1 = json.loads((first / "manifest.json").read_text())
    m2 = json.loads((second / "manifest.json").read_text())
    assert m1["validation_scores"] == m2["validation_scores"] and m1["fingerprint"] == m2["fingerprint"]
    texts = load_examples(small_file)[0]
    assert m1["validation"] == validation_split(len(texts))[1].tolist()
    encoder = CrisisEncoder.load(first)
    held, scores = encoder.validation
    rescored = encoder.score([texts[i] for i in held])
    assert np.allclose(rescored, scores, atol=1e-4)
    assert ((rescored > 0) & (rescored < 1)).all()


def test_a_missing_encoder_leaves_the_logistic_regression_alone(tmp_path, caplog):
    assert CrisisEncoder.load(tmp_path / "nowhere") is None
    assert "make crisis-model" in caplog.text
    assert _find_encoder(DATA_FILE, tmp_path) is None and _find_encoder(DATA_FILE, None) is None


@pytest.mark.slow
def test_an_encoder_trained_on_other_data_is_not_used(small_file, tmp_path, caplog):
    folder = encoder_dir(tmp_path, DATA_FILE)
    train(small_file, folder, epochs=1, threads=1)  # stands where DATA_FILE's encoder would
    assert CrisisEncoder.load(folder) is not None
    assert _find_encoder(DATA_FILE, tmp_path) is None
    assert "other data" in caplog.text


class _ConstantEncoder:
    """An encoder that says the same score for every message, with a held-out fifth."""

    fingerprint = "constant"

    def __init__(self, value: float, n: int):
        self.value = value
        held = validation_split(n)[1]
        self.validation = (held, np.full(len(held), value))

    def score(self, texts):
        return np.full(len(texts), self.value)


def test_the_score_is_the_average_of_both_models(embedder):
    texts, labels, _ = load_examples(DATA_FILE)
    plain = CrisisClassifier.fit(embedder, use_encoder=False)
    message = "I keep thinking about ending it"
    lr = plain.score(message)
    both = CrisisClassifier(plain.embedder, plain.model, plain.threshold, plain.watch, plain.report,
                            _ConstantEncoder(0.2, len(texts)))
    assert both.score(message) == pytest.approx((lr + 0.2) / 2)


@pytest.mark.slow
def test_the_shipped_classifier_averages_in_the_trained_encoder():
    """``make test`` trains the encoder first (``make crisis-model``); the threshold of the
    average is chosen on the fifth of the training file the encoder never saw."""
    from rag.config import Settings
    from rag.embedding import make_embedder
    from rag.safety import crisis_rules_fire

    cache = Settings(_env_file=None).cache_dir
    assert (encoder_dir(cache, DATA_FILE) / "manifest.json").exists(), "run `make crisis-model` first"
    clf = CrisisClassifier.fit(make_embedder("packaged"), cache_dir=cache, rules=crisis_rules_fire)
    assert clf.encoder is not None and clf.report["encoder"] == clf.encoder.fingerprint
    n = len(load_examples(DATA_FILE)[0])
    assert clf.report["held_out"] == len(validation_split(n)[1])
    # No more false crises on the held-out fifth than the logistic regression alone makes there.
    assert clf.report["combined_false_crisis"] <= clf.report["false_crisis_budget"] <= 0.10
    assert 0 < clf.watch < clf.threshold < 1
