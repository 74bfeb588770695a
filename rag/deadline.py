"""A time limit for any streamed reply, whatever the generator behind it.

A generator can hang inside ``next()`` (a stuck model, a remote server that never answers),
and a thread blocked there cannot be interrupted. So the pieces are pulled in a worker
thread and handed over through a queue: the patient's request waits at most ``total_s`` for
the whole reply and ``idle_s`` for each piece, then moves on to the extractive answer.
Closing the returned iterator (or running past the deadline) tells the worker to stop and
close the generator, which stops the model at its next piece.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Iterator

from .errors import GenerationError

_END = object()


def within_deadline(pieces: Iterable[str], total_s: float, idle_s: float | None = None) -> Iterator[str]:
    """Yield ``pieces`` until they end; raise GenerationError once a limit is passed."""
    handoff: queue.Queue = queue.Queue()
    stop = threading.Event()
    source = iter(pieces)

    def pull() -> None:
        try:
            for piece in source:
                if stop.is_set():
                    break
                handoff.put(piece)
            handoff.put(_END)
        except BaseException as exc:  # handed to the consumer, who decides what the patient sees
            handoff.put(exc)
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    threading.Thread(target=pull, daemon=True, name="generate-deadline").start()
    deadline = time.monotonic() + total_s
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise GenerationError(f"the language model did not finish within {total_s:g} s")
            wait = left if idle_s is None else min(left, idle_s)
            try:
                item = handoff.get(timeout=wait)
            except queue.Empty:
                if time.monotonic() >= deadline:
                    raise GenerationError(f"the language model did not finish within {total_s:g} s") from None
                raise GenerationError(f"the language model sent nothing for {idle_s:g} s") from None
            if item is _END:
                return
            if isinstance(item, GenerationError):
                raise item
            if isinstance(item, BaseException):
                raise GenerationError(f"the language model failed ({type(item).__name__})") from item
            yield item
    finally:
        stop.set()
