"""A loopback HTTP server answering the way the Hugging Face hub's file endpoint does
(`HEAD`/`GET /<owner>/<name>/resolve/<revision>/<file>` with ETag, X-Repo-Commit and
Content-Length), serving folders under a root: what huggingface_hub.hf_hub_download reads."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import os
import threading


def _handler(root: str, requests: list):
    class Hub(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _file(self):
            parts = self.path.split("?")[0].split("/")
            if len(parts) != 6 or parts[3] != "resolve":
                return None
            path = os.path.join(root, parts[1], parts[2], parts[5])
            return path if os.path.isfile(path) else None

        def _answer(self, with_body: bool):
            requests.append((self.command, self.path))
            path = self._file()
            if path is None:
                self.send_response(404)
                self.send_header("X-Error-Code", "EntryNotFound")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            with open(path, "rb") as f:
                data = f.read()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
            self.send_header("X-Repo-Commit", "0" * 40)
            self.end_headers()
            if with_body:
                self.wfile.write(data)

        def do_HEAD(self):
            self._answer(False)

        def do_GET(self):
            self._answer(True)

    return Hub


@contextlib.contextmanager
def serving(root: str):
    """(endpoint URL, list of (method, path) requests seen) while the server runs."""
    requests: list = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(root, requests))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
