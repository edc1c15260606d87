"""What the tests' loopback model servers share (tests/_llm_servers.py, tests/_gpu_server.py):
a JSON request handler, an HTTP server on a loopback port served from daemon threads, and the
answer SGLang's ``/generate`` gives a batch. No pytest here: ``_gpu_server.py`` also runs as a
script."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class JsonHandler(BaseHTTPRequestHandler):
    """Reads JSON bodies and answers JSON, quietly."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output clean
        pass

    def reply(self, status: int, data) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self) -> dict:
        return json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")


class ThreadedServer:
    """A ThreadingHTTPServer on a loopback port (0: a free one), run in a daemon thread while
    the ``with`` block lasts; ``url`` is its base URL."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int = 0):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def sglang_answers(texts: list[str], answers: list[str]) -> list[dict]:
    """SGLang's ``/generate`` answer to a batch of prompts: each answer with its meta_info
    (token counts are word counts)."""
    return [
        {
            "text": answer,
            "meta_info": {
                "id": f"r{i}",
                "finish_reason": {"type": "stop"},
                "prompt_tokens": len(text.split()),
                "completion_tokens": len(answer.split()),
                "cached_tokens": 0,
            },
        }
        for i, (text, answer) in enumerate(zip(texts, answers, strict=True))
    ]
