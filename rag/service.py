"""Builds a ready pipeline from settings: index (built if missing or stale), models, texts.

Shared by the app, the CLI and the evaluation so all three answer the same way.
"""

from __future__ import annotations

import logging

from .config import Settings
from .embedding import make_embedder
from .errors import ModelUnavailableError
from .generation import make_generator, transformers_generator
from .ingestion import build_index
from .pipeline import Pipeline
from .verify.parse import warm as verify_parse

log = logging.getLogger(__name__)


def build_pipeline(settings: Settings, *, warm: bool = False, **pipeline_options) -> Pipeline:
    """Load (or build) the index and wire the configured models into a pipeline."""
    embedder = make_embedder(settings.embedder)
    store, report = build_index(settings.corpus_dir, settings.index_dir, embedder, settings.chunk_max_chars)
    if report.changed:
        log.info("index rebuilt: %s", report.summary())
    generator = make_generator(settings)
    if warm:
        embedder.embed(["warm up"])
        verify_parse(["It is loaded now."])  # the claim check's parser (0.7 s), not on a patient's first answer
        if generator is not None and hasattr(generator, "load"):
            try:
                generator.load()
            except ModelUnavailableError as exc:
                if not hasattr(generator, "copy"):
                    raise
                log.warning("the onnxruntime-genai model could not be used (%s); generating with transformers", exc)
                generator = transformers_generator(settings)
                generator.load()
    return Pipeline(settings, store, embedder, generator, **pipeline_options)
