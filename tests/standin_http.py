"""What the HTTP stand-ins (tests/kfp_standin.py, tests/k8s_standin.py) share: a quiet handler
that answers with a JSON or plain-text body of a known length."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any


class QuietHandler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:  # the test's output is not a server log
        pass

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        self._send(status, "application/json", json.dumps(body).encode())

    def _text(self, text: str, status: int = 200) -> None:
        self._send(status, "text/plain", text.encode())

    def _send(self, status: int, content_type: str, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
