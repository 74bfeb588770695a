"""Generation on an OpenAI-compatible server (vLLM, llama.cpp server, Ollama), streamed.

Clinics that outgrow one machine run the model on an inference server and point several
copies of the app at it. The server can be slow, busy or down, so every failure here becomes
a ``GenerationError``: the pipeline then answers with the article's own sentences and a
notice, and the patient never sees an error page. Retries happen only before the first token,
because text already shown to the patient cannot be taken back.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import closing

import httpx

from .errors import GenerationError

log = logging.getLogger(__name__)

RETRY_STATUSES = {408, 409, 425, 429, 500, 502, 503, 504}  # worth asking again; others will not change
PROBE_TIMEOUT_S = 2.0  # for listing the server's models; generation has its own timeouts
HEALTH_TTL_S = 10.0  # /healthz answers from this recent a probe, so a health check never waits long


class _Retry(Exception):
    """A failure before the first token that another attempt may cure."""


def chat_completions_url(base_url: str) -> str:
    """Accept the server's root, its ``/v1`` or the full endpoint, as people paste any of them."""
    url = base_url.strip().rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    if not url.endswith("/v1"):
        url += "/v1"
    return url + "/chat/completions"


def parse_sse(lines: Iterator[str]) -> Iterator[str]:
    """Text pieces from a chat-completions event stream; stops at ``[DONE]``.

    Comments, other fields and keep-alive blank lines are skipped. An ``error`` object sent
    inside the stream (llama.cpp and vLLM do this mid-answer) raises a GenerationError, and so
    does a stream that ends with neither ``[DONE]`` nor a finish reason (the server went away).
    """
    finished = False
    for line in lines:
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == "[DONE]":
            return
        if not payload:
            continue
        try:
            event = json.loads(payload)
        except ValueError as exc:
            raise GenerationError("the inference server sent a malformed event") from exc
        if not isinstance(event, dict):
            raise GenerationError("the inference server sent a malformed event")
        if event.get("error"):
            raise GenerationError(f"the inference server reported an error{_error_kind(event['error'])}")
        for choice in event.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            piece = (choice.get("delta") or {}).get("content")
            if isinstance(piece, str) and piece:
                yield piece
            finished = finished or bool(choice.get("finish_reason"))
    if not finished:
        raise GenerationError("the inference server closed the stream before the reply was finished")


def _error_kind(error: object) -> str:
    """The error's type or code only: servers' messages can quote the prompt, which holds
    the patient's words, and this text goes to the log."""
    if isinstance(error, dict):
        kind = error.get("type") or error.get("code")
        if isinstance(kind, (str, int)) and len(str(kind)) <= 60:
            return f" ({kind})"
    return ""


class OpenAIGenerator:
    """``Generator`` over HTTP: streaming ``/v1/chat/completions`` with greedy decoding.

    ``model`` may be empty: the first model the server lists is used (llama.cpp and a
    single-model vLLM serve exactly one).
    """

    def __init__(self, url: str, model: str | None = None, api_key: str | None = None, *,
                 max_new_tokens: int = 72, connect_timeout_s: float = 3.0, read_timeout_s: float = 20.0,
                 total_timeout_s: float = 30.0, retries: int = 1, retry_backoff_s: float = 0.5):
        if not url.startswith(("http://", "https://")):
            raise GenerationError(f"generator_url {url!r} must start with http:// or https://")
        self.endpoint = chat_completions_url(url)
        self.models_url = self.endpoint.removesuffix("/chat/completions") + "/models"
        self.model = model or None
        self.max_new_tokens, self.retries, self.retry_backoff_s = max_new_tokens, max(0, retries), retry_backoff_s
        self.total_timeout_s = total_timeout_s
        self.timeout = httpx.Timeout(connect=connect_timeout_s, read=read_timeout_s, write=read_timeout_s,
                                     pool=connect_timeout_s)
        headers = {"Accept": "text/event-stream"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        # One pooled client for all requests: keeps connections to the server open between answers.
        self._client = httpx.Client(timeout=self.timeout, headers=headers, trust_env=False)
        self._health: tuple[float, bool] | None = None
        self._health_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings) -> OpenAIGenerator:
        return cls(settings.generator_url, settings.generator_model, settings.generator_api_key,
                   max_new_tokens=settings.max_new_tokens,
                   connect_timeout_s=settings.generator_connect_timeout_s,
                   read_timeout_s=settings.generator_read_timeout_s,
                   total_timeout_s=settings.generation_timeout_s, retries=settings.generator_retries)

    @property
    def model_id(self) -> str:
        return f"{self.model or 'served model'} at {self.endpoint.removesuffix('/v1/chat/completions')}"

    @property
    def loaded(self) -> bool:
        """Nothing to load here; the server holds the model."""
        return True

    def load(self) -> None:
        """Warm-up at start: learn the model name and tell the operator if the server is away.

        Never fails: the app starts anyway and answers with quotes until the server is back.
        """
        if not self.reachable():
            log.warning("the inference server at %s does not answer; answers will be quoted from the "
                        "articles until it does", self.endpoint)
            return
        self._served_model()

    # --- reachability, for /healthz ----------------------------------------------------------
    def reachable(self) -> bool:
        """Whether the server is up, probed with ``GET /v1/models`` at most every few seconds.

        A server that accepts the connection but is slow to list its models counts as up:
        llama.cpp's Python server answers nothing else while it generates.
        """
        with self._health_lock:
            if self._health and time.monotonic() - self._health[0] < HEALTH_TTL_S:
                return self._health[1]
            try:
                response = self._client.get(self.models_url, timeout=PROBE_TIMEOUT_S)
                ok = response.status_code < 500
            except httpx.ReadTimeout:
                ok = True  # connected, busy generating
            except httpx.HTTPError:
                ok = False
            self._health = (time.monotonic(), ok)
            return ok

    def _served_model(self) -> str | None:
        """The first model the server lists, for servers that need a name (vLLM, Ollama)."""
        if self.model is None:
            try:
                # Short: llama.cpp's Python server lists nothing while it generates.
                response = self._client.get(self.models_url, timeout=PROBE_TIMEOUT_S)
                data = response.json().get("data") or []
                self.model = data[0]["id"] if data else None
            except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError):
                return None  # the chat request itself will say what is wrong
        return self.model

    # --- generation -----------------------------------------------------------------------
    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        """Yield the reply's text as it arrives; closing the iterator closes the request."""
        deadline = time.monotonic() + self.total_timeout_s
        attempt = 0
        while True:
            started = False
            try:
                # closing() so that closing this iterator closes the HTTP request at once.
                with closing(self._one_request(messages, deadline)) as pieces:
                    for piece in pieces:
                        started = True
                        yield piece
                return
            except _Retry as exc:
                attempt += 1
                if started or attempt > self.retries or time.monotonic() + self.retry_backoff_s > deadline:
                    raise GenerationError(str(exc)) from exc.__cause__
                log.warning("inference server: %s; retrying (%d of %d)", exc, attempt, self.retries)
                time.sleep(self.retry_backoff_s * attempt)

    def _one_request(self, messages: list[dict[str, str]], deadline: float) -> Iterator[str]:
        payload = {"messages": messages, "stream": True, "max_tokens": self.max_new_tokens, "temperature": 0.0}
        model = self._served_model()
        if model:
            payload["model"] = model
        started = False
        try:
            with self._client.stream("POST", self.endpoint, json=payload) as response:
                if response.status_code != 200:
                    detail = _error_detail(response)
                    message = f"the inference server answered HTTP {response.status_code}{detail}"
                    if response.status_code in RETRY_STATUSES:
                        raise _Retry(message)
                    raise GenerationError(message)
                for piece in parse_sse(response.iter_lines()):
                    started = True
                    yield piece
                    if time.monotonic() > deadline:
                        raise GenerationError(f"the inference server did not finish within "
                                              f"{self.total_timeout_s:.0f} s")
        except httpx.TimeoutException as exc:
            what = "did not accept the connection" if isinstance(exc, httpx.ConnectTimeout) else "stopped answering"
            failure = f"the inference server {what} in time"
            if started:
                raise GenerationError(failure) from exc
            raise _Retry(failure) from exc
        except httpx.HTTPError as exc:  # refused, reset, broken stream
            failure = f"cannot reach the inference server at {self.endpoint} ({type(exc).__name__})"
            if started:
                raise GenerationError(failure) from exc
            raise _Retry(failure) from exc

    def close(self) -> None:
        self._client.close()


def _error_detail(response: httpx.Response) -> str:
    """The kind of error the server names, if any (never its message; see _error_kind)."""
    try:
        response.read()
        data = response.json()
    except (httpx.HTTPError, ValueError):
        return ""
    error = data.get("error") if isinstance(data, dict) else None
    return _error_kind(error)
