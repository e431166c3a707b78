"""A real HTTP server with Range support on 127.0.0.1, serving a folder, with faults on request."""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Iterator
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar


class RangeHandler(SimpleHTTPRequestHandler):
    """Serves files with single and multipart byte ranges, and HEAD (with ``ETag`` and ``Last-Modified``, as real
    servers give); the first path element picks a behaviour: ``ok``, ``404``, ``500`` (always), ``flaky`` (500 on
    the first request of each file), ``drop`` (closes the connection half-way through every body). ``requests``
    counts the requests per path, ``served`` the body bytes sent per path."""

    requests: ClassVar[Counter] = Counter()
    served: ClassVar[Counter] = Counter()

    def log_message(self, *args):  # keep the test output clean
        pass

    def do_HEAD(self):
        self.do_GET(head=True)

    def do_GET(self, head=False):
        mode, _, name = self.path.lstrip("/").partition("/")
        type(self).requests[self.path] += 1
        if mode == "404":
            return self.send_error(HTTPStatus.NOT_FOUND)
        if mode == "500" or (mode == "flaky" and type(self).requests[self.path] == 1):
            return self.send_error(HTTPStatus.INTERNAL_SERVER_ERROR)
        path = Path(self.directory) / name
        if not path.is_file():
            return self.send_error(HTTPStatus.NOT_FOUND)
        data = path.read_bytes()
        stat = path.stat()
        self._validators = {
            "ETag": f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"',
            "Last-Modified": self.date_time_string(int(stat.st_mtime)),
        }
        header = self.headers.get("Range")
        if head:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Accept-Ranges", "bytes")
            for key, value in self._validators.items():
                self.send_header(key, value)
            return self.end_headers()
        if not header:
            return self._send(HTTPStatus.OK, data, "application/octet-stream", mode)
        ranges = []
        for part in header.removeprefix("bytes=").split(","):
            start, _, stop = part.strip().partition("-")
            ranges.append((int(start), min(int(stop), len(data) - 1)))
        if len(ranges) == 1:
            start, stop = ranges[0]
            return self._send(
                HTTPStatus.PARTIAL_CONTENT,
                data[start : stop + 1],
                "application/octet-stream",
                mode,
                {"Content-Range": f"bytes {start}-{stop}/{len(data)}"},
            )
        boundary = "hzz4lboundary"
        body = (
            b"".join(
                f"--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes {a}-{b}/{len(data)}"
                f"\r\n\r\n".encode()
                + data[a : b + 1]
                + b"\r\n"
                for a, b in ranges
            )
            + f"--{boundary}--\r\n".encode()
        )
        return self._send(HTTPStatus.PARTIAL_CONTENT, body, f"multipart/byteranges; boundary={boundary}", mode)

    def _send(self, status, body, content_type, mode, extra=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        for key, value in (self._validators | (extra or {})).items():
            self.send_header(key, value)
        self.end_headers()
        type(self).served[self.path] += len(body) // 2 if mode == "drop" else len(body)
        if mode == "drop":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(body)
        return


@contextlib.contextmanager
def serving(folder: Path) -> Iterator[tuple[str, type[RangeHandler]]]:
    """A real HTTP server on 127.0.0.1 serving ``folder`` (see RangeHandler); yields its URL and handler class."""
    handler = type("Handler", (RangeHandler,), {"requests": Counter(), "served": Counter()})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), lambda *a, **k: handler(*a, directory=str(folder), **k))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    finally:
        httpd.shutdown()
        httpd.server_close()
