"""A loopback HTTP/1.1 server for tests that need what ``http.server`` cannot do: headers or a body sent
a byte at a time, raw (malformed) header values, and a record of every request received, credentials
included, so a test can prove that nothing (or nothing secret) reached it.

``LocalHttpServer(respond)``: ``respond(request, connection)`` writes the reply on the socket; the helpers
``reply`` and ``trickle`` cover the usual cases. One thread per connection; ``close()`` stops it all.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    raw: bytes = field(repr=False)


Responder = Callable[[RecordedRequest, socket.socket], None]


def reply(connection: socket.socket, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
          *, raw_headers: list[bytes] | None = None) -> None:
    lines = [f"HTTP/1.1 {status} X".encode()]
    merged = {"Content-Length": str(len(body)), "Connection": "close", **(headers or {})}
    lines += [f"{k}: {v}".encode("latin-1") for k, v in merged.items()]
    lines += raw_headers or []
    connection.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)


def trickle(connection: socket.socket, data: bytes, *, every: float, stop: threading.Event) -> None:
    """Send ``data`` one byte at a time, ``every`` seconds apart (until the client hangs up)."""
    for byte in data:
        if stop.wait(every):
            return
        try:
            connection.sendall(bytes([byte]))
        except OSError:
            return


class LocalHttpServer:
    def __init__(self, respond: Responder):
        self.respond = respond
        self.requests: list[RecordedRequest] = []
        self.stop = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            thread = threading.Thread(target=self._handle, args=(connection,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _handle(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(5)
            try:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = connection.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
                length = int(headers.get("content-length") or 0)
                while len(body) < length:
                    chunk = connection.recv(65536)
                    if not chunk:
                        break
                    body += chunk
                request = RecordedRequest(method, path, headers, body, data)
                self.requests.append(request)
                self.respond(request, connection)
            except OSError:
                return

    def close(self) -> None:
        self.stop.set()
        self._sock.close()
        self._accept.join(timeout=2)
        deadline = time.monotonic() + 5
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> LocalHttpServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
