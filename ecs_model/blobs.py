"""Image config blobs on loopback, standing in for the S3 URLs that ECR's
GetDownloadUrlForLayer hands out (moto does not implement it)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class BlobStore:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self._server: ThreadingHTTPServer | None = None

    def put(self, repository: str, digest: str, body: bytes) -> None:
        self.blobs[f"/{repository}/{digest}"] = body

    def url(self, repository: str, digest: str) -> str:
        if self._server is None:
            raise RuntimeError("start() first")
        return f"http://127.0.0.1:{self._server.server_address[1]}/{repository}/{digest}"

    def start(self) -> None:
        blobs = self.blobs

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = blobs.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
