"""Does this sentence answer the question? The packaged MiniLM fine-tuned as a cross-encoder.

Why a learned judge: whether a sentence answers a patient's question depends on what the
question asks about, in words nobody can list ahead ("ket" is ketamine, "talk therapy" is
psychotherapy, but "bipolar" is not "depression" and "tinnitus" is not mentioned at all). A
cross-encoder reads the question and the sentence together, so it can learn that a condition,
place, dose or product the question names must be in the sentence, while shorthand and
everyday words need not match.

It learns the task, not the clinic's article: ``data/answers/`` holds clinic-style articles on
other topics and patients' questions about them, written apart from the project (for each
question, the sentence(s) that answer it, or none), so the clinic's own question sets measure
it honestly and it serves the clinic's next articles as well as its first.

Training takes minutes on two CPU cores, so it is not done at start-up: ``make answer-model``
(``python -m rag train-answer-scorer``) trains it reproducibly (fixed seed, fixed order) into the
cache folder, named by a hash of the training data and these settings. The articles of one
fifth of the questions' documents (fixed by the seed) are held out, and the figures on them go
in the manifest. Without a trained scorer the answerability decision runs on its rules alone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["AnswerScorer", "DATA_DIR", "Pair", "ensure_trained", "load_answer_scorer", "load_pairs", "scorer_dir",
           "train"]

log = logging.getLogger("rag.answers")
DATA_DIR = Path(__file__).with_name("data") / "answers"
SEED = 0
EPOCHS = 2
LEARNING_RATE = 4e-5  # the encoder's; the head learns at HEAD_LEARNING_RATE
HEAD_LEARNING_RATE = 1e-2
BATCH = 16
MAX_TOKENS = 128  # question and sentence together
HARD_NEGATIVES = 3  # per answerable question: the sentences of its article nearest to it that do not answer it
UNANSWERED_NEGATIVES = 8  # per unanswerable one: its nearest sentences, the ones a patient would be misled by
RANDOM_NEGATIVES = 1  # and one more at random, so the far ones are seen too
VALIDATION_SHARE = 0.2  # of the articles
VERSION = 2  # bump when training changes: the folder name changes and the model is retrained


@dataclass(frozen=True)
class Pair:
    question: str
    sentence: str  # as the pipeline reads it: "Heading: sentence"
    answers: bool
    doc: str


def sentence_text(heading: str, sentence: str) -> str:
    """How a sentence is shown to the scorer: with its section heading, as retrieval ranks it."""
    return f"{heading}: {sentence}" if heading else sentence


def article_sentences(path: Path) -> list[str]:
    """The sentences of one training article, cut and headed exactly as the pipeline cuts the corpus."""
    from .chunking import chunk_document, sentences_of
    from .documents import load_document

    doc = load_document(path)
    out = []
    for chunk in chunk_document(doc):
        heading = "" if chunk.heading == doc.title else chunk.heading
        for s, e in sentences_of(chunk):
            text = doc.text[s:e].strip()
            if text and not text.endswith(":"):
                out.append(sentence_text(heading, text))
    return out


def _normal(text: str) -> str:
    return " ".join(text.replace("’", "'").replace("“", '"').replace("”", '"').split()).lower()


def load_pairs(data_dir: Path = DATA_DIR, embed=None, seed: int = SEED) -> list[list[Pair]]:
    """One list of pairs a question: each sentence that answers it, its hardest non-answers (by
    ``embed`` cosine, when given) and a random one; every pair of an unanswerable question is a
    non-answer. Questions are lines ``{"doc", "question", "answerable", "answers": [sentences]}``
    of ``questions.jsonl``; articles are ``<doc>.txt`` beside it."""
    data_dir = Path(data_dir)
    rows = [json.loads(line) for line in (data_dir / "questions.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]
    articles = {doc: article_sentences(data_dir / f"{doc}.txt") for doc in sorted({r["doc"] for r in rows})}
    vectors = {doc: embed(sents) for doc, sents in articles.items()} if embed else {}
    rng = np.random.RandomState(seed)
    groups = []
    for row in rows:
        sents = articles[row["doc"]]
        wanted = [_normal(a) for a in row.get("answers", []) if a.strip()]
        positive = [i for i, s in enumerate(sents) if any(_answers(_normal(s), a) for a in wanted)]
        if row.get("answerable") and not positive:
            continue  # answered only by a list lead-in ("... include:"), which is never evidence
        rest = [i for i in range(len(sents)) if i not in positive]
        n_hard = HARD_NEGATIVES if positive else UNANSWERED_NEGATIVES
        if embed:
            sims = vectors[row["doc"]][rest] @ embed([row["question"]])[0]
            hard = [rest[k] for k in np.argsort(-sims)[:n_hard]]
        else:
            hard = rest[:n_hard]
        others = [i for i in rest if i not in hard]
        far = list(rng.choice(others, size=min(RANDOM_NEGATIVES, len(others)), replace=False)) if others else []
        groups.append([Pair(row["question"], sents[i], i in positive, row["doc"]) for i in positive + hard + far])
    return groups


def _answers(sentence: str, answer: str) -> bool:
    """A training sentence holds a listed answer (either may carry the list label)."""
    return answer in sentence or (len(sentence) > 30 and sentence in answer) or \
        (": " in sentence and sentence.split(": ", 1)[1] in answer)


class _CrossEncoder:
    """Question and sentence read together by MiniLM, mean-pooled, one linear unit."""

    def __init__(self, base: Path):
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
        self.encoder = AutoModel.from_pretrained(str(base), local_files_only=True)
        self.head = torch.nn.Linear(self.encoder.config.hidden_size, 1)

    def logits(self, questions: Sequence[str], sentences: Sequence[str]):

        batch = self.tokenizer(list(questions), list(sentences), padding=True, truncation="longest_first",
                               max_length=MAX_TOKENS, return_tensors="pt")
        hidden = self.encoder(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
        return self.head(pooled).squeeze(-1)

    def proba(self, questions: Sequence[str], sentences: Sequence[str]) -> np.ndarray:
        import torch

        self.encoder.eval()
        with torch.inference_mode():
            out = [torch.sigmoid(self.logits(questions[i:i + 32], sentences[i:i + 32])).numpy()
                   for i in range(0, len(sentences), 32)]
        return np.concatenate(out) if out else np.zeros(0)


class AnswerScorer:
    """A trained scorer loaded from its folder: ``score(question, sentences)`` gives, for each
    sentence, the probability that it answers the question."""

    def __init__(self, model: _CrossEncoder, manifest: dict):
        self.model, self.manifest = model, manifest

    def score(self, question: str, sentences: Sequence[str]) -> np.ndarray:
        return self.model.proba([question] * len(sentences), list(sentences))

    @classmethod
    def load(cls, folder: Path) -> AnswerScorer | None:
        """The scorer in ``folder``, or None (logged) when it is missing or unreadable."""
        import torch

        folder = Path(folder)
        try:
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
            model = _CrossEncoder(folder)
            model.head.load_state_dict(torch.load(folder / "head.pt", weights_only=True))
        except (OSError, ValueError, RuntimeError, KeyError) as err:
            log.warning("no trained answer scorer at %s (%s); run `make answer-model` to train it. "
                        "The answerability rules decide alone meanwhile.", folder, type(err).__name__)
            return None
        return cls(model, manifest)


_LOADED: dict[Path, AnswerScorer] = {}  # scorers this process loaded, by folder


def load_answer_scorer(settings) -> AnswerScorer | None:
    """The trained scorer for the shipped data, loaded once per process; None when it is turned
    off or not trained (the answerability rules then decide alone)."""
    if not settings.answer_scorer:
        return None
    folder = scorer_dir(settings.cache_dir).resolve()
    if folder not in _LOADED:
        scorer = AnswerScorer.load(folder)
        if scorer is None:
            return None
        _LOADED[folder] = scorer
    return _LOADED[folder]


def base_model() -> Path:
    from .safety.encoder import base_model as packaged

    return packaged()


def scorer_dir(cache_dir: Path, data_dir: Path = DATA_DIR) -> Path:
    """Where the scorer trained on ``data_dir`` lives in ``cache_dir``."""
    from .embedding import PACKAGED_EMBEDDER

    return Path(cache_dir) / f"answer-scorer-{_fingerprint(data_dir, PACKAGED_EMBEDDER)}"


def _fingerprint(data_dir: Path, base_id: str) -> str:
    settings = (f"{base_id}|{VERSION}|{SEED}|{EPOCHS}|{LEARNING_RATE}|{HEAD_LEARNING_RATE}|{BATCH}|{MAX_TOKENS}|"
                f"{HARD_NEGATIVES}|{UNANSWERED_NEGATIVES}|{RANDOM_NEGATIVES}|{VALIDATION_SHARE}")
    digest = hashlib.sha256(settings.encode())
    for path in sorted(Path(data_dir).glob("*")):
        if path.suffix in (".txt", ".jsonl"):
            digest.update(path.name.encode() + b"\x00" + path.read_bytes())
    return digest.hexdigest()[:16]


def split_docs(docs: Sequence[str], seed: int = SEED) -> tuple[set[str], set[str]]:
    """(training, held-out) articles, the same for the same articles and seed."""
    docs = sorted(set(docs))
    order = np.random.RandomState(seed).permutation(len(docs))
    cut = max(1, int(round(len(docs) * VALIDATION_SHARE)))
    held = {docs[i] for i in order[:cut]}
    return set(docs) - held, held


def train(data_dir: Path, out_dir: Path, base: Path | None = None, epochs: int = EPOCHS, seed: int = SEED,
          threads: int = 2, hold_out: bool = True) -> Path:
    """Fine-tune the packaged MiniLM on ``data_dir`` and save it, with its figures on the held-out
    articles, in ``out_dir``. The same inputs give the same model (fixed seed and order)."""
    import torch

    from .embedding import make_embedder

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    embedder = make_embedder("packaged")
    groups = load_pairs(data_dir, embedder.embed, seed)
    train_docs, held_docs = split_docs([g[0].doc for g in groups], seed) if hold_out else \
        ({g[0].doc for g in groups}, set())
    pairs = [p for g in groups if g[0].doc in train_docs for p in g]
    model = _CrossEncoder(Path(base) if base else base_model())
    # The word embeddings stay as pre-trained: a fifth faster, and a rare word ("ket", "tinnitus")
    # keeps what the packaged model knows of it instead of drifting with the few questions it is in.
    model.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    optimiser = torch.optim.AdamW([{"params": [p for p in model.encoder.parameters() if p.requires_grad],
                                    "lr": LEARNING_RATE},
                                   {"params": model.head.parameters(), "lr": HEAD_LEARNING_RATE}], weight_decay=0.01)
    steps = epochs * -(-len(pairs) // BATCH)
    warm = max(1, int(0.1 * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(  # a tenth warm-up, then linear decay to zero
        optimiser, lambda s: min(1.0, (s + 1) / warm) * max(0.0, 1 - s / steps))
    positives = sum(p.answers for p in pairs)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor((len(pairs) - positives) / max(1, positives)))
    started = time.perf_counter()
    for epoch in range(epochs):
        model.encoder.train()
        total = 0.0
        for batch in _batches(pairs, np.random.RandomState(seed + epoch)):
            loss = loss_fn(model.logits([p.question for p in batch], [p.sentence for p in batch]),
                           torch.tensor([float(p.answers) for p in batch]))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(batch)
        log.info("answer scorer epoch %d: loss %.4f (%.0f s, %d pairs)", epoch + 1, total / len(pairs),
                 time.perf_counter() - started, len(pairs))
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    model.encoder.save_pretrained(tmp)
    model.tokenizer.save_pretrained(tmp)
    torch.save(model.head.state_dict(), tmp / "head.pt")
    manifest = {"version": VERSION, "seed": seed, "epochs": epochs, "pairs": len(pairs),
                "questions": sum(1 for g in groups if g[0].doc in train_docs),
                "data": _fingerprint(data_dir, "data"), "held_out_docs": sorted(held_docs),
                "held_out": held_out_figures(model, [g for g in groups if g[0].doc in held_docs], data_dir),
                "seconds": round(time.perf_counter() - started, 1)}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    if out_dir.exists():
        import shutil

        shutil.rmtree(out_dir)
    tmp.replace(out_dir)
    return out_dir


def _batches(pairs: list[Pair], rng: np.random.RandomState) -> list[list[Pair]]:
    """Shuffled batches of pairs of similar length (less padding, the same pairs each epoch)."""
    order = list(rng.permutation(len(pairs)))
    window = BATCH * 16
    batches = []
    for i in range(0, len(order), window):
        chunk = sorted(order[i:i + window], key=lambda k: len(pairs[k].question) + len(pairs[k].sentence))
        batches += [[pairs[k] for k in chunk[j:j + BATCH]] for j in range(0, len(chunk), BATCH)]
    return [batches[k] for k in rng.permutation(len(batches))]


def held_out_figures(model: _CrossEncoder, groups: list[list[Pair]], data_dir: Path) -> dict:
    """On the held-out articles, over every sentence of each question's article: how often the
    best-scored sentence answers an answerable question, and how well the best score tells
    answerable from unanswerable questions (ROC AUC; accuracy at 0.5)."""
    if not groups:
        return {}
    docs = {g[0].doc for g in groups}
    sentences = {doc: article_sentences(Path(data_dir) / f"{doc}.txt") for doc in docs}
    top1, best, truth = [], [], []
    for g in groups:
        question, sents = g[0].question, sentences[g[0].doc]
        probs = model.proba([question] * len(sents), sents)
        answering = {p.sentence for p in g if p.answers}
        truth.append(bool(answering))
        best.append(float(probs.max()))
        if answering:
            top1.append(sents[int(probs.argmax())] in answering)
    truth_arr, best_arr = np.array(truth), np.array(best)
    return {"questions": len(groups), "top1_answers": float(np.mean(top1)) if top1 else None,
            "answerable_auc": _auc(best_arr[truth_arr], best_arr[~truth_arr]),
            "accuracy_at_half": float(((best_arr >= 0.5) == truth_arr).mean())}


def _auc(pos: np.ndarray, neg: np.ndarray) -> float | None:
    if not len(pos) or not len(neg):
        return None
    return float(((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum())
                 / (len(pos) * len(neg)))


def ensure_trained(cache_dir: Path, force: bool = False) -> Path:
    """Train the scorer on the shipped data into ``cache_dir`` unless it is there
    (``python -m rag train-answer-scorer``, ``make answer-model``)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", force=True)
    folder = scorer_dir(cache_dir)
    if (folder / "manifest.json").exists() and not force:
        print(f"answer scorer up to date: {folder}")
        return folder
    print(f"training the answer scorer on {DATA_DIR} (several minutes on two cores) ...")
    train(DATA_DIR, folder)
    print(f"answer scorer saved: {folder}")
    return folder
