"""Shared fixtures: a tmp corpus, an index built with the hashing embedder, settings."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.config import Settings
from rag.ingestion import build_index
from tests.fakes import HashingEmbedder

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = next((ROOT / "corpus").glob("*.txt"))



@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    """A private copy of the clinic's corpus."""
    target = tmp_path / "corpus"
    target.mkdir()
    for path in (ROOT / "corpus").iterdir():
        shutil.copy(path, target / path.name)
    return target


@pytest.fixture
def settings(tmp_path: Path, corpus_dir: Path) -> Settings:
    return Settings(corpus_dir=corpus_dir, index_dir=tmp_path / "index", cache_dir=tmp_path / "cache",
                    generator="extractive", rate_limit_per_minute=0, _env_file=None)


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
def store(settings: Settings, embedder: HashingEmbedder):
    built, _ = build_index(settings.corpus_dir, settings.index_dir, embedder, settings.chunk_max_chars)
    return built
