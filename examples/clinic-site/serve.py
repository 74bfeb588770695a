"""Serve this example clinic page, with its widget tag pointing at your assistant.

    python examples/clinic-site/serve.py --app http://127.0.0.1:7860 --port 8000

then open http://127.0.0.1:8000/ and allow that origin on the assistant:
    python app.py --embed-origin http://127.0.0.1:8000
"""

from __future__ import annotations

import argparse
import http.server
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLACEHOLDER = "http://127.0.0.1:7860"


class PageHandler(http.server.SimpleHTTPRequestHandler):
    """Static files from this folder; in its HTML pages the tag's address is replaced by the
    server's ``app_url``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=str(HERE), **kwargs)

    def do_GET(self):
        name = self.path.split("?", 1)[0].split("#", 1)[0].lstrip("/") or "index.html"
        pages = {p.name for p in HERE.glob("*.html")}
        if name not in pages:
            return super().do_GET()
        page = (HERE / name).read_text(encoding="utf-8")
        body = page.replace(PLACEHOLDER, self.server.app_url.rstrip("/")).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # quiet: this is a demo
        pass


def make_server(app_url: str, port: int = 0, host: str = "127.0.0.1") -> http.server.ThreadingHTTPServer:
    server = http.server.ThreadingHTTPServer((host, port), PageHandler)
    server.app_url = app_url
    return server


def serve_in_thread(app_url: str, port: int = 0) -> tuple[http.server.ThreadingHTTPServer, str]:
    """For tests: the page served in the background; returns the server and its base URL."""
    server = make_server(app_url, port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--app", default=PLACEHOLDER, help="the assistant's address (default %(default)s)")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    server = make_server(args.app, args.port)
    print(f"Example clinic page on http://127.0.0.1:{args.port}/ (widget from {args.app})", flush=True)
    print(f"Allow it on the assistant: python app.py --embed-origin http://127.0.0.1:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
