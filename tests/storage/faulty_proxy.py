"""A small HTTP proxy in front of the real S3 server, to make it misbehave on purpose.

It forwards every request unchanged to the upstream server (the signature
stays valid because the Host header is passed through), except that it can
answer the first ``fail_first`` requests with ``503 SlowDown`` (a transient
failure a client must retry) and can drop the ``If-None-Match`` header (a
server that ignores conditional writes, like ``rclone serve s3``). Used as a
forward proxy (absolute request targets), it lets a client reach the server
under any host name, e.g. a virtual-hosted ``bucket.s3.example.test``.
"""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

_SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection"}


class FaultyProxy:
    def __init__(
        self,
        upstream: str,
        *,
        fail_first: int = 0,
        drop_if_none_match: bool = False,
        port: int = 0,
    ) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.fail_first = fail_first
        self.drop_if_none_match = drop_if_none_match
        self.failures_served = 0
        self.requests_forwarded = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FaultyProxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def _should_fail(self) -> bool:
        with self._lock:
            if self.failures_served < self.fail_first:
                self.failures_served += 1
                return True
            self.requests_forwarded += 1
            return False

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.0 semantics: one request per connection keeps the relay simple.
            protocol_version = "HTTP/1.0"

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep test output clean

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if proxy._should_fail():
                    self.send_response(503, "Slow Down")
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(_SLOW_DOWN)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(_SLOW_DOWN)
                    return
                upstream = http.client.HTTPConnection(
                    proxy.upstream_host, proxy.upstream_port, timeout=60
                )
                try:
                    target = self.path
                    if target.startswith("http://"):  # forward-proxy form: keep path and query
                        parts = urlsplit(target)
                        target = parts.path + (f"?{parts.query}" if parts.query else "")
                    upstream.putrequest(
                        self.command, target, skip_host=True, skip_accept_encoding=True
                    )
                    for name, value in self.headers.items():
                        lowered = name.lower()
                        if lowered in _HOP_BY_HOP:
                            continue
                        if proxy.drop_if_none_match and lowered == "if-none-match":
                            continue
                        upstream.putheader(name, value)
                    upstream.endheaders(body or None)
                    response = upstream.getresponse()
                    payload = response.read()
                    self.send_response(response.status, response.reason)
                    head = self.command == "HEAD"  # keeps the object's Content-Length
                    for name, value in response.getheaders():
                        lowered = name.lower()
                        if lowered in _HOP_BY_HOP or (lowered == "content-length" and not head):
                            continue
                        self.send_header(name, value)
                    if not head:
                        self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                finally:
                    upstream.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay

        return Handler
