"""Real, small stand-ins for the models, so most tests run in milliseconds.

HashingEmbedder: a bag of hashed word stems, L2-normalised; texts sharing words are close.
ScriptedGenerator: replies with fixed text (streamed word by word), or raises, or stalls.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator

import numpy as np

from rag.errors import GenerationError
from rag.textnorm import content_stems


class HashingEmbedder:
    model_id = "test/hashing-embedder"

    def __init__(self, dim: int = 256):
        self.dim = dim
        self.calls = 0
        self.texts_embedded = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        self.texts_embedded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in content_stems(text):
                h = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")
                out[row, h % self.dim] += 1.0 if (h >> 63) == 0 else -1.0
            norm = np.linalg.norm(out[row])
            if norm:
                out[row] /= norm
        return out


class ScriptedGenerator:
    """Streams ``reply`` (a string, or a callable of the prompt messages returning one)."""

    model_id = "test/scripted"

    def __init__(self, reply="", fail: bool = False, stall_s: float = 0.0):
        self.reply, self.fail, self.stall_s = reply, fail, stall_s
        self.prompts: list[list[dict]] = []
        self.closed = 0

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        self.prompts.append(messages)
        if self.fail:
            raise GenerationError("scripted failure")
        text = self.reply(messages) if callable(self.reply) else self.reply
        try:
            for word in text.split(" "):
                if self.stall_s:
                    time.sleep(self.stall_s)
                yield word + " "
        finally:
            self.closed += 1


class CopyingGenerator(ScriptedGenerator):
    """A copy decoder that "picks" by a fixed rule: the ``pick``-th clause offered for each
    sentence (the real one lets the model's logits choose). Records what it was offered."""

    model_id = "test/copying"

    def __init__(self, pick: int = -1, sentences: int = 1):
        super().__init__()
        self.pick, self.sentences = pick, sentences
        self.offered: list[list[list[str]]] = []

    def copy(self, messages: list[dict[str, str]], choices, may_stop: bool = True) -> Iterator[str]:
        self.prompts.append(messages)
        self.offered.append([list(c) for c in choices])
        for n, options in enumerate(list(choices)[: self.sentences]):
            if options:
                yield (options[self.pick] if n == 0 else " " + options[self.pick])


class OverlapAnswerScorer:
    """Stands in for the fine-tuned answer scorer: a sentence "answers" a question in proportion
    to the share of the question's content words it says."""

    def __init__(self):
        self.calls: list[tuple[str, list[str]]] = []

    def score(self, question: str, sentences: list[str]) -> np.ndarray:
        self.calls.append((question, list(sentences)))
        asked = set(content_stems(question))
        return np.array([len(asked & set(content_stems(s))) / max(len(asked), 1) for s in sentences])
