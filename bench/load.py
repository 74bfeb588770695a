"""Load test: many patients at once against /api/ask and /api/ask/stream, on this machine only.

    python bench/load.py --serve                       # start app.py, 20 clients x 60 s, stop it
    python bench/load.py --url http://127.0.0.1:7860 --pid 1234 --clients 20 --duration 60

Every request must end in an answer or a polite refusal (429 or 503 carrying Retry-After);
anything else (a 5xx, a hang past --timeout, a dropped connection, a stream without its
``done`` event) counts as an error and makes the exit status 1. Reports status counts, p50/p95
latency of answers and of refusals, answers per second, and the server's resident memory
before (after one warm-up answer), at its peak and after. Bounded in time and requests, and
refuses any address that is not loopback: it is not a tool for other people's servers.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "How quickly does ketamine work for depression?",
    "What is treatment-resistant depression?",
    "How does psilocybin therapy work?",
    "Is ketamine therapy safe?",
    "How much does ketamine cost?",  # not covered: the quick path
]
POLITE = (429, 503)


@dataclass
class Outcome:
    endpoint: str
    status: int  # 0 when no HTTP status arrived (timeout, connection error)
    seconds: float
    kind: str  # "answered", "refused" or "error"
    detail: str = ""


@dataclass
class LoadReport:
    clients: int
    duration_s: float
    requests: int = 0
    answered: int = 0
    refused: int = 0
    errors: int = 0
    statuses: dict = field(default_factory=dict)
    error_details: dict = field(default_factory=dict)
    answer_p50_ms: float = 0.0
    answer_p95_ms: float = 0.0
    refusal_p50_ms: float = 0.0
    refusal_p95_ms: float = 0.0
    refusal_max_ms: float = 0.0
    answers_per_s: float = 0.0
    rss_before_mb: float | None = None
    rss_peak_mb: float | None = None
    rss_mid_mb: float | None = None  # half way through: equal to "after" when memory is flat
    rss_after_mb: float | None = None

    def lines(self) -> list[str]:
        mem = "" if self.rss_before_mb is None else (
            f"\nserver memory: {self.rss_before_mb:.0f} MB before, {self.rss_mid_mb or 0:.0f} MB half way, "
            f"{self.rss_peak_mb:.0f} MB peak, {self.rss_after_mb:.0f} MB after")
        return [
            f"{self.clients} clients for {self.duration_s:.0f} s: {self.requests} requests, {self.answered} answered, "
            f"{self.refused} refused politely (429/503 + Retry-After), {self.errors} errors",
            f"statuses: {json.dumps(self.statuses, sort_keys=True)}"
            + (f"; errors: {json.dumps(self.error_details, sort_keys=True)}" if self.errors else ""),
            f"answer latency p50 {self.answer_p50_ms:.0f} ms, p95 {self.answer_p95_ms:.0f} ms; "
            f"throughput {self.answers_per_s:.2f} answers/s",
            f"refusal latency p50 {self.refusal_p50_ms:.0f} ms, p95 {self.refusal_p95_ms:.0f} ms, "
            f"max {self.refusal_max_ms:.0f} ms" + mem,
        ]


def require_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror as exc:
        raise SystemExit(f"cannot resolve {host!r}: {exc}") from None
    if not addresses or not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
        raise SystemExit(f"{host!r} is not this machine: the load test only runs against loopback addresses")


def rss_mb(pid: int | None) -> float | None:
    """Resident memory of a local process, from /proc (Linux); None when unknown."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def one_request(client, endpoint: str, question: str, timeout: float) -> Outcome:
    t0 = time.perf_counter()

    def outcome(status: int, kind: str, detail: str = "") -> Outcome:
        return Outcome(endpoint, status, time.perf_counter() - t0, kind, detail)

    try:
        async with asyncio.timeout(timeout):
            async with client.stream("POST", endpoint, json={"question": question}) as r:
                body = (await r.aread()).decode("utf-8", "replace")
    except TimeoutError:
        return outcome(0, "error", "no answer within the timeout")
    except Exception as exc:  # a dropped or refused connection is an error, whatever its type
        return outcome(0, "error", type(exc).__name__)
    if r.status_code in POLITE:
        polite = "retry-after" in r.headers and "error" in body
        return outcome(r.status_code, "refused" if polite else "error", "" if polite else "refusal without Retry-After")
    if r.status_code != 200:
        return outcome(r.status_code, "error", f"HTTP {r.status_code}")
    if endpoint.endswith("/stream"):
        if "event: done" not in body or "event: error" in body:
            return outcome(200, "error", "stream ended without its answer")
    elif '"status"' not in body:
        return outcome(200, "error", "answer without a status")
    return outcome(200, "answered")


async def run_load(url: str, clients: int = 20, duration_s: float = 60.0, max_requests: int = 100_000,
                   timeout_s: float = 120.0, pid: int | None = None) -> LoadReport:
    """``clients`` loops, each asking one question after another (alternating the two endpoints)
    until ``duration_s`` has passed or ``max_requests`` were sent; a refused client waits a moment."""
    import httpx

    require_loopback(url)
    report = LoadReport(clients, duration_s)
    outcomes: list[Outcome] = []
    budget = [max_requests]
    # Drop idle connections before uvicorn does (5 s), so no request goes out on one it is closing.
    limits = httpx.Limits(max_connections=clients + 2, max_keepalive_connections=clients + 2, keepalive_expiry=4.0)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout_s) as client:
        warm = await one_request(client, "/api/ask", QUESTIONS[0], timeout_s)
        if warm.kind != "answered":
            raise SystemExit(f"the server did not answer a first question ({warm.status} {warm.detail})")
        report.rss_before_mb = report.rss_peak_mb = rss_mb(pid)
        stop_at = time.monotonic() + duration_s

        async def patient(number: int) -> None:
            i = number
            while time.monotonic() < stop_at and budget[0] > 0:
                budget[0] -= 1
                endpoint = "/api/ask/stream" if i % 2 else "/api/ask"
                result = await one_request(client, endpoint, QUESTIONS[i % len(QUESTIONS)], timeout_s)
                outcomes.append(result)
                i += 1
                if result.kind == "refused":
                    await asyncio.sleep(0.25)  # a real client would honour Retry-After; keep the pressure on

        async def watch_memory() -> None:
            half_way = stop_at - duration_s / 2
            while time.monotonic() < stop_at:
                now = rss_mb(pid)
                if now is not None:
                    report.rss_peak_mb = max(report.rss_peak_mb or 0.0, now)
                    if report.rss_mid_mb is None and time.monotonic() >= half_way:
                        report.rss_mid_mb = now
                await asyncio.sleep(0.5)

        started = time.monotonic()
        await asyncio.gather(watch_memory(), *(patient(n) for n in range(clients)))
        elapsed = time.monotonic() - started
    report.rss_after_mb = rss_mb(pid)
    if report.rss_after_mb is not None:
        report.rss_peak_mb = max(report.rss_peak_mb or 0.0, report.rss_after_mb)
    summarise(report, outcomes, elapsed)
    return report


def summarise(report: LoadReport, outcomes: list[Outcome], elapsed: float) -> None:
    kinds = Counter(o.kind for o in outcomes)
    report.requests = len(outcomes)
    report.answered, report.refused, report.errors = kinds["answered"], kinds["refused"], kinds["error"]
    report.statuses = dict(Counter(str(o.status) for o in outcomes))
    report.error_details = dict(Counter(o.detail for o in outcomes if o.kind == "error"))
    answers = [o.seconds * 1e3 for o in outcomes if o.kind == "answered"]
    refusals = [o.seconds * 1e3 for o in outcomes if o.kind == "refused"]
    report.answer_p50_ms, report.answer_p95_ms = percentile(answers, 0.5), percentile(answers, 0.95)
    report.refusal_p50_ms, report.refusal_p95_ms = percentile(refusals, 0.5), percentile(refusals, 0.95)
    report.refusal_max_ms = max(refusals, default=0.0)
    report.answers_per_s = len(answers) / elapsed if elapsed else 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(port: int, extra_args: list[str], ready_timeout_s: float) -> subprocess.Popen:
    """``python app.py`` on a free loopback port, the way ``make run`` starts it; waits for /healthz."""
    import httpx

    # No per-client rate limit for the load test (all clients share one address); an unknown
    # setting is ignored, so this is harmless where there is no rate limit.
    env = {**os.environ, "CLINIC_RATE_LIMIT_PER_MINUTE": "0"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--host", "127.0.0.1", "--port", str(port),
                             *extra_args], cwd=ROOT, env=env)
    deadline = time.monotonic() + ready_timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"app.py exited with status {proc.returncode} before it was ready")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(1)
    proc.send_signal(signal.SIGTERM)
    raise SystemExit(f"app.py was not ready within {ready_timeout_s:.0f} s")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", help="a running app on this machine, e.g. http://127.0.0.1:7860")
    p.add_argument("--pid", type=int, help="the server's process id, for its memory figures")
    p.add_argument("--serve", action="store_true", help="start app.py on a free port for the run, then stop it")
    p.add_argument("--app-args", default="", help="extra app.py flags with --serve, e.g. '--generator extractive'")
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    p.add_argument("--max-requests", type=int, default=20_000, help="stop after this many requests in all")
    p.add_argument("--timeout", type=float, default=120.0, help="a request not done by then is an error")
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args(argv)
    if bool(args.url) == args.serve:
        p.error("give either --url or --serve")

    proc = None
    if args.serve:
        proc = start_app(free_port(), args.app_args.split(), ready_timeout_s=600)
        url, pid = f"http://127.0.0.1:{proc.args[proc.args.index('--port') + 1]}", proc.pid
    else:
        url, pid = args.url, args.pid
    try:
        report = asyncio.run(run_load(url, args.clients, args.duration, args.max_requests, args.timeout, pid))
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    print("\n".join(report.lines()))
    if args.json:
        args.json.write_text(json.dumps(asdict(report), indent=2))
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
