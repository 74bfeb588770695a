"""Streamed answers whose work ends when the client leaves.

The answer's events come from a blocking iterator (retrieval, the model), pulled in worker
threads. When a client disconnects mid-answer the server stops sending, but nothing would
close that iterator: it would keep its place in the Gate and the model would keep writing
for no one. ``ClosingStreamingResponse`` closes it however the response ends.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator

from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

_END = object()


class ThreadedStream:
    """Steps a blocking iterator in worker threads, one step at a time, for an async response;
    ``on_close`` runs once, after the iterator has ended or been closed."""

    def __init__(self, iterator: Iterator[str], on_close: Callable[[], None] | None = None):
        self._iterator = iterator
        self._on_close = on_close
        self._lock = threading.Lock()  # a step and the close never run at the same time
        self._finished = False
        self._closed = False

    def _step(self):
        with self._lock:
            if self._finished:
                return _END
            item = next(self._iterator, _END)
            if item is _END:
                self._finished = True
            return item

    async def __aiter__(self) -> AsyncIterator[str]:
        while True:
            item = await run_in_threadpool(self._step)
            if item is _END:
                return
            yield item

    def _finish(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = self._finished = True
            close = getattr(self._iterator, "close", None)
            if close is not None:
                close()
        if self._on_close is not None:
            self._on_close()

    def close(self) -> None:
        """Close the iterator once a step in progress is done, without blocking the event loop."""
        threading.Thread(target=self._finish, daemon=True, name="close-stream").start()


class ClosingStreamingResponse(StreamingResponse):
    """A StreamingResponse that closes its ThreadedStream when done, sent, failed or abandoned."""

    def __init__(self, stream: ThreadedStream, **kwargs):
        super().__init__(stream, **kwargs)
        self._stream = stream

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._stream.close()
