"""A real HTTP server on 127.0.0.1 that records requests and answers from a script."""

from __future__ import annotations

import threading
from collections.abc import Callable
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import attrs


@attrs.frozen
class Received:
    """One request the receiver got."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@attrs.frozen
class Reply:
    """One scripted response."""

    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b"ok"


class Receiver:
    """Records requests; answers from a script of replies, then 200 ``ok``."""

    def __init__(self, check: Callable[[Message, bytes], Reply] | None = None) -> None:
        """``check`` (optional) answers instead of the script, given the raw headers and body."""
        self.requests: list[Received] = []
        self.script: list[Reply] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with receiver.lock:
                    receiver.requests.append(
                        Received(self.command, self.path, dict(self.headers.items()), body)
                    )
                    reply = receiver.script.pop(0) if receiver.script else Reply()
                if check is not None:
                    reply = check(self.headers, body)
                self.send_response(reply.status)
                for name, value in reply.headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_POST = _handle
            do_GET = _handle

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def reply(self, *replies: Reply) -> None:
        with self.lock:
            self.script.extend(replies)

    @property
    def keys(self) -> list[str]:
        with self.lock:
            return [r.headers.get("Idempotency-Key", "") for r in self.requests]
