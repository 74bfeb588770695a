"""SmolLM2 on onnxruntime-genai: int8 weights, one thread, several times faster than float32 torch.

The packaged GGUF is de-quantized once by transformers (``rag.generation``), then converted once
by onnxruntime-genai's model builder into an int8 ONNX model under the cache folder; later starts
load that folder in a fraction of a second. Besides free greedy text (``stream``), the runtime's
token-by-token loop lets the decoder copy: ``copy`` walks the token trie of given candidate
clauses, the model's logits choosing among the tokens that continue one, so every word it
releases is a clause of a numbered source ("the model picks, the decoder copies").
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from .errors import GenerationError, ModelUnavailableError
from .generation import TransformersGenerator, converted_weights_dir, publish_folder

log = logging.getLogger(__name__)
PRECISION = "int8"  # int4 was tried too: see the README's generation figures


def available() -> bool:
    """Whether onnxruntime-genai (and the builder's onnx packages) can be imported."""
    try:
        import onnxruntime_genai  # noqa: F401
    except ImportError:
        return False
    return True


class OnnxGenerator:
    """A local causal LM through onnxruntime-genai: greedy, streamed, bounded length."""

    def __init__(self, model: str = "smollm2", cache_dir: Path = Path(".cache"), max_new_tokens: int = 96,
                 threads: int = 1, timeout_s: float = 30.0, precision: str = PRECISION):
        self._weights = TransformersGenerator(model, cache_dir, max_new_tokens, timeout_s=timeout_s)
        self.cache_dir, self.max_new_tokens, self.timeout_s = Path(cache_dir), max_new_tokens, timeout_s
        self.threads, self.precision = max(1, threads or 1), precision
        self.model_id = f"{self._weights.model_id} (onnxruntime-genai {precision})"
        self._model = self._tokenizer = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def model_dir(self) -> Path:
        source = self._hf_folder()
        return source.parent / f"{source.name}-onnx-{self.precision}"

    def _hf_folder(self) -> Path:
        w = self._weights
        return converted_weights_dir(w.gguf, self.cache_dir) if w.gguf is not None else Path(w.source)

    def load(self):
        """Load once (thread-safe); convert on the first start."""
        with self._lock:
            if self._model is not None:
                return self._model, self._tokenizer
            try:
                import onnxruntime_genai as og
            except ImportError as exc:
                raise ModelUnavailableError("onnxruntime-genai is not installed; run `make install`") from exc
            source = self._hf_folder()
            if not (source / "config.json").exists():
                self._weights._convert(self._weights.gguf, source)
            target = self.model_dir()
            if not (target / "genai_config.json").exists():
                self._build(source, target)
            self._set_threads(target)
            config = og.Config(str(target))
            config.clear_providers()
            self._model = og.Model(config)
            self._tokenizer = og.Tokenizer(self._model)
            return self._model, self._tokenizer

    def _build(self, source: Path, target: Path) -> None:
        log.info("converting %s to %s ONNX once; later starts load the cached model", source.name, self.precision)
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".onnx-"))
        try:
            done = subprocess.run(
                [sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(source), "-o", str(tmp / "out"),
                 "-p", self.precision, "-e", "cpu", "-c", str(tmp / "work")],
                capture_output=True, text=True, timeout=900, env={**os.environ, "HF_HUB_OFFLINE": "1"})
            if done.returncode != 0 or not (tmp / "out" / "genai_config.json").exists():
                tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
                raise ModelUnavailableError(f"converting the model to ONNX failed: {' / '.join(tail)}")
            publish_folder(tmp / "out", target, "genai_config.json")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _set_threads(self, folder: Path) -> None:
        """One intra-op thread by default: two spin-waiting threads collapse when the other core is busy."""
        path = folder / "genai_config.json"
        config = json.loads(path.read_text(encoding="utf-8"))
        options = config["model"]["decoder"].setdefault("session_options", {})
        if options.get("intra_op_num_threads") != self.threads:
            options["intra_op_num_threads"] = self.threads
            tmp = path.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(config, indent=2), encoding="utf-8")
            os.replace(tmp, path)

    # --- text -----------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        _, tokenizer = self.load()
        return len(tokenizer.encode(text))

    def _start(self, messages: list[dict[str, str]], extra: int):
        import onnxruntime_genai as og

        model, tokenizer = self.load()
        prompt = tokenizer.apply_chat_template(json.dumps(messages), add_generation_prompt=True)
        ids = tokenizer.encode(prompt)
        params = og.GeneratorParams(model)
        params.set_search_options(max_length=len(ids) + extra, do_sample=False)
        generator = og.Generator(model, params)
        generator.append_tokens(ids)
        return generator, tokenizer, len(ids)

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        """Greedy free text, piece by piece; closing the iterator stops the model."""
        try:
            generator, tokenizer, _ = self._start(messages, self.max_new_tokens)
            pieces = tokenizer.create_stream()
            for _ in range(self.max_new_tokens):
                if generator.is_done():
                    break
                generator.generate_next_token()
                token = int(generator.get_next_tokens()[0])
                if token == self._eos():
                    break
                piece = pieces.decode(token)
                if piece:
                    yield piece
        except ModelUnavailableError:
            raise
        except Exception as exc:  # noqa: BLE001 - the runtime raises plain RuntimeErrors
            raise GenerationError(f"the language model failed: {exc}") from exc

    def _eos(self) -> int:
        _, tokenizer = self.load()
        return int(tokenizer.encode("<|im_end|>")[-1])

    def copy(self, messages: list[dict[str, str]], choices: Sequence[Sequence[str]],
             may_stop: bool = True) -> Iterator[str]:
        """Whole candidate clauses, chosen token by token by the model and copied verbatim.

        ``choices[k]`` are the clauses sentence k + 1 may be. At each choice point the logits are
        restricted to the tokens that start or continue one of them (and, after the first
        sentence and when ``may_stop``, the end of the reply); once one is left, its remaining
        tokens are appended without asking. No clause is used twice."""
        try:
            _, tokenizer = self.load()
            generator, _, _ = self._start(messages, self.max_new_tokens + 96 * len(choices))
            eos = self._eos()
            used: set[str] = set()
            for n, options in enumerate(choices):
                left = [c for c in dict.fromkeys(options) if c.strip() and c not in used]
                tokens = {c: [int(t) for t in tokenizer.encode(c if n == 0 else " " + c)] for c in left}
                alive = [c for c in left if tokens[c]]
                if not alive:
                    return
                step = 0
                while True:
                    nexts = {tokens[c][step] for c in alive if step < len(tokens[c])}
                    stop_here = may_stop and n > 0 and step == 0
                    if not nexts or (len(alive) == 1 and not stop_here):
                        break  # one clause left (or the same tokens): the decoder copies the rest
                    logits = np.asarray(generator.get_logits()).reshape(-1)
                    best = max(sorted(nexts) + ([eos] if stop_here else []), key=lambda t: float(logits[t]))
                    if best == eos:
                        return  # the model would rather stop than add another sentence
                    generator.append_tokens([best])
                    alive = [c for c in alive if step < len(tokens[c]) and tokens[c][step] == best]
                    step += 1
                picked = alive[0]
                used.add(picked)
                # Out before its remaining tokens are fed: the patient reads it while the model
                # takes it in for the next choice.
                yield picked if n == 0 else " " + picked
                rest = tokens[picked][step:]
                if rest and n + 1 < len(choices):
                    generator.append_tokens(rest)
        except ModelUnavailableError:
            raise
        except Exception as exc:  # noqa: BLE001 - the runtime raises plain RuntimeErrors
            raise GenerationError(f"the language model failed: {exc}") from exc
