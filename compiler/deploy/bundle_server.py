"""A small static server for bundle files, the "bundle service" OPA polls.

For tests, demos and small deployments: standard library only. It serves the
``*.tar.gz`` files of one directory (nothing else, no listings, no subdirectories) with
a strong ETag (the sha256 of the content), so OPA's ``If-None-Match`` polls cost a 304
until ``policypacks publish --to DIR`` renames a new bundle into place.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

SERVED_SUFFIX = ".tar.gz"


class EtagCache:
    """sha256 per file version, keyed by what ``fstat`` says, so a poll of an unchanged
    bundle is answered without reading it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tags: dict[tuple[str, int, int, int], str] = {}

    def etag(self, name: str, stat: os.stat_result, read: Callable[[], bytes]) -> str:
        key = (name, stat.st_ino, stat.st_mtime_ns, stat.st_size)
        with self._lock:
            tag = self._tags.get(key)
        if tag is None:
            tag = '"' + hashlib.sha256(read()).hexdigest() + '"'
            with self._lock:
                self._tags = {k: v for k, v in self._tags.items() if k[0] != name}
                self._tags[key] = tag
        return tag


def etag_matches(header: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 13.1.2): ``W/`` is ignored."""
    if not header:
        return False
    candidates = [part.strip() for part in header.split(",")]
    return any(c == "*" or c.removeprefix("W/") == etag for c in candidates)


class BundleHandler(BaseHTTPRequestHandler):
    server_version = "policypacks-bundles"
    directory: Path = Path(".")
    cache: EtagCache = EtagCache()
    quiet: bool = False

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._serve(body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(body=False)

    def _resolve(self) -> Path | None:
        name = unquote(urlsplit(self.path).path).lstrip("/")
        if not name.endswith(SERVED_SUFFIX) or "/" in name or "\\" in name \
                or name.startswith("."):
            return None
        return self.directory / name

    def _serve(self, body: bool) -> None:
        path = self._resolve()
        try:
            handle = open(path, "rb") if path else None  # noqa: SIM115
        except OSError:
            handle = None
        if handle is None or path is None:
            self.send_error(HTTPStatus.NOT_FOUND, "no such bundle")
            return
        with handle:
            stat = os.fstat(handle.fileno())
            content: bytes | None = None

            def read() -> bytes:
                nonlocal content
                if content is None:
                    content = handle.read()
                return content

            etag = self.cache.etag(path.name, stat, read)
            if etag_matches(self.headers.get("If-None-Match"), etag):
                self.send_response(HTTPStatus.NOT_MODIFIED)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            data = read()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/gzip")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("ETag", etag)
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        if body:
            self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        if not self.quiet:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")


class BundleServer:
    """A :class:`ThreadingHTTPServer` for ``directory``; a context manager running it in a
    daemon thread (tests) or :meth:`serve_forever` in the foreground (``policypacks serve``).
    """

    def __init__(self, directory: Path, port: int = 0, host: str = "127.0.0.1",
                 quiet: bool = True) -> None:
        handler = type("Handler", (BundleHandler,), {
            "directory": Path(directory).resolve(), "cache": EtagCache(), "quiet": quiet})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def start(self) -> BundleServer:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True,
                                        name="bundle-server")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread:
            self.httpd.shutdown()
            self._thread.join()
            self._thread = None
        self.httpd.server_close()

    def __enter__(self) -> BundleServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
