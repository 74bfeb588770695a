"""Per-client limit on the answer routes: one site embedding the widget, or one script, cannot
take every turn of the CPU model. Counts requests in a sliding one-minute window, in memory."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque

LIMITED_PATHS = ("/api/ask", "/api/ask/stream")
WINDOW_S = 60.0
MAX_CLIENTS = 10_000  # the least recently seen clients are forgotten past this, so memory stays bounded


def too_many_message(retry_after_s: int) -> str:
    return (f"You have asked several questions in a short time. Please wait about {retry_after_s} seconds, "
            "then try again.")


class RateLimiter:
    """``allow(key)`` is 0 while ``key`` has asked fewer than ``per_minute`` times in the last
    minute, else the whole seconds until it may ask again. ``per_minute`` 0 turns it off."""

    def __init__(self, per_minute: int, clock=time.monotonic, max_clients: int = MAX_CLIENTS):
        self.per_minute = per_minute
        self._clock = clock
        self._max_clients = max_clients
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, key: str) -> int:
        if self.per_minute <= 0:
            return 0
        now = self._clock()
        with self._lock:
            stamps = self._seen.pop(key, None) or deque()
            while stamps and now - stamps[0] >= WINDOW_S:
                stamps.popleft()
            wait = 0
            if len(stamps) >= self.per_minute:
                wait = max(1, math.ceil(WINDOW_S - (now - stamps[0])))
            else:
                stamps.append(now)
            self._seen[key] = stamps
            while len(self._seen) > self._max_clients:
                self._seen.popitem(last=False)
            return wait


def client_key(peer: str | None, forwarded_for: str | None, behind_proxy: bool) -> str:
    """The peer address; the proxy's record of the original client only when the clinic said a
    proxy sets it (otherwise anyone could pick a fresh key for each request)."""
    if behind_proxy and forwarded_for:
        first = forwarded_for.split(",")[0].strip()
        if first:
            return first
    return peer or "unknown"


def install_rate_limit(app, limiter: RateLimiter, *, behind_proxy: bool = False,
                       paths: tuple[str, ...] = LIMITED_PATHS) -> None:
    """A middleware answering 429 ``{"error": ...}`` with ``Retry-After`` on ``paths`` (POST)."""
    from fastapi import Request
    from fastapi.responses import JSONResponse

    app.state.rate_limiter = limiter

    @app.middleware("http")
    async def rate_limit(request: Request, call_next):
        if request.method == "POST" and request.url.path in paths and limiter.per_minute > 0:
            peer = request.client.host if request.client else None
            wait = limiter.allow(client_key(peer, request.headers.get("x-forwarded-for"), behind_proxy))
            if wait:
                return JSONResponse({"error": too_many_message(wait)}, status_code=429,
                                    headers={"Retry-After": str(wait), "Cache-Control": "no-store"})
        return await call_next(request)
