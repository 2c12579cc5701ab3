"""A tiny health endpoint: ``GET /health`` returns the first-use status as JSON."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def serve_health(host: str, port: int, status: Callable[[], dict[str, Any]]) -> ThreadingHTTPServer:
    """Bind now (so a taken port fails at start), serve when the caller runs serve_forever."""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/health":
                self.send_error(404, "only /health is served")
                return
            with lock:
                body = json.dumps(status()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the console for the operator's messages

    return ThreadingHTTPServer((host, port), Handler)
