"""A small OpenAI-compatible server on a real loopback socket, scripted per test.

It speaks just enough of ``/v1/chat/completions`` (streamed as Server-Sent Events) and
``/v1/models`` for the client to be tested against real HTTP: slow first bytes, error
statuses, dropped connections and clients that hang up are all real socket behaviour here.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Script:
    """What the server does. ``statuses`` are answered in turn (then 200s)."""

    reply: str = "Hello from the server."
    piece_words: int = 1  # words per streamed event
    first_byte_delay_s: float = 0.0
    piece_delay_s: float = 0.0
    statuses: list[int] = field(default_factory=list)
    models: list[str] = field(default_factory=lambda: ["fake-model"])
    drop_after_pieces: int | None = None  # close the socket mid-answer


@dataclass
class Record:
    requests: list[dict] = field(default_factory=list)
    headers: list[dict] = field(default_factory=list)
    pieces_sent: int = 0
    client_gone: threading.Event = field(default_factory=threading.Event)


class FakeOpenAIServer:
    def __init__(self, script: Script | None = None):
        self.script = script or Script()
        self.record = Record()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True, name="fake-openai")

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet
                pass

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path == "/v1/models":
                    self._json(200, {"object": "list", "data": [{"id": m, "object": "model"}
                                                                for m in server.script.models]})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if self.path != "/v1/chat/completions":
                    self._json(404, {"error": {"message": "not found"}})
                    return
                server.record.requests.append(body)
                server.record.headers.append(dict(self.headers))
                script = server.script
                if script.statuses:
                    status = script.statuses.pop(0)
                    if status != 200:
                        # Like real servers, the message may quote the prompt.
                        prompt = body.get("messages", [{}])[-1].get("content", "")
                        self._json(status, {"error": {"message": f"scripted {status} for {prompt}",
                                                      "type": "invalid_request_error"}})
                        return
                time.sleep(script.first_byte_delay_s)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                words = script.reply.split(" ")
                pieces = [" ".join(words[i : i + script.piece_words]) + " "
                          for i in range(0, len(words), script.piece_words)]
                try:
                    self.wfile.write(b": keep-alive comment\n\n")
                    for n, piece in enumerate(pieces):
                        if script.drop_after_pieces is not None and n >= script.drop_after_pieces:
                            self.close_connection = True
                            self.connection.shutdown(2)
                            return
                        event = {"id": "c1", "object": "chat.completion.chunk",
                                 "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
                        self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                        self.wfile.flush()
                        server.record.pieces_sent += 1
                        time.sleep(script.piece_delay_s)
                    done = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
                    self.wfile.write(f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode())
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    server.record.client_gone.set()

        return Handler


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
