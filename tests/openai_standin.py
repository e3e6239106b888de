"""A local OpenAI-compatible chat endpoint for tests of the ``openai`` backend: a real HTTP server that
replies with a fixed text (streamed as server-sent events, or as one JSON body), optionally after a
delay. Imported by name (``from openai_standin import chat_endpoint``), like ``pdfs`` and ``scripted``.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Reply to the follow-up rewrite prompt (its last message ends with "Standalone question:") at once.
REWRITE_MARK = "Standalone question"


@contextmanager
def chat_endpoint(reply: str, delay_s: float = 0.0, rewrite: str = "", finish: str | None = "stop",
                  drip_s: float = 0.0) -> Iterator[str]:
    """Serve ``reply`` (after ``delay_s``) on 127.0.0.1; yields the base URL (``…/v1``). A rewrite request
    gets ``rewrite`` (default: the reply) without delay. A stream ends with ``finish`` as its finish reason
    ("length": cut at the token limit), or with None just stops (a dropped connection: no reason, no [DONE]).
    ``drip_s``: stream one character every ``drip_s`` seconds (a server that trickles)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            last = str((body.get("messages") or [{}])[-1].get("content", ""))
            if REWRITE_MARK in last:
                self._whole(rewrite or reply)
                return
            time.sleep(delay_s)
            if not body.get("stream"):
                self._whole(reply)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            half = len(reply) // 2
            events: list[tuple[dict[str, str], str | None]] = [({"content": reply[:half]}, None),
                                                                ({"content": reply[half:]}, None)]
            if drip_s:
                events = [({"content": c}, None) for c in reply]
            if finish is not None:
                events.append(({}, finish))
            for delta, reason in events:
                chunk = {"id": "s", "object": "chat.completion.chunk", "created": 0, "model": "standin",
                         "choices": [{"index": 0, "delta": delta, "finish_reason": reason}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                if drip_s:
                    self.wfile.flush()
                    time.sleep(drip_s)
            if finish is not None:
                self.wfile.write(b"data: [DONE]\n\n")

        def _whole(self, text: str) -> None:
            payload: dict[str, Any] = {
                "id": "s", "object": "chat.completion", "created": 0, "model": "standin",
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
            }
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            # A client that stops reading (the product reads an endless reply only up to its limit) is the
            # behaviour under test, not an error: socketserver would print its traceback to stderr, which a
            # CliRunner captures into the command's output.
            if isinstance(sys.exc_info()[1], ConnectionError):
                return
            super().handle_error(request, client_address)

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1"
    finally:
        server.shutdown()
        server.server_close()
