"""A loopback SGLang ``/generate`` server with a GPU server's timing, for the caption tests and
``bench/caption_scale.py``: it works in rounds of at most ``capacity`` prompts (its batch
capacity), and a round takes ``round_s`` plus ``token_s`` per new token of its longest prompt
(``max_new_tokens``), like a decode batch. Prompts that arrive during a round wait for the next.

It keeps the figures that say whether the caption runner kept it busy: the time spent in rounds
against the time from the first prompt to the last answer (``busy_share``), how full the rounds
were (``fill``), and the most HTTP requests it had open at once (``max_open``).

    python tests/_gpu_server.py --port 30000 --capacity 64 --round-s 0.2 --token-s 0.005
"""

from __future__ import annotations

import argparse
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from _loopback import JsonHandler, ThreadedServer, sglang_answers

CAPTION = (
    "A quiet residential street crosses this aerial view from the left side to the right "
    "side, lined with small houses, driveways and a few tall trees on both sides of the road."
)


@dataclass
class _Prompt:
    tokens: int
    done: threading.Event = field(default_factory=threading.Event)


class GpuImitation:
    """The rounds and the figures; ``generate`` blocks until a request's prompts are done."""

    def __init__(self, capacity: int = 64, round_s: float = 0.2, token_s: float = 0.005):
        self.capacity, self.round_s, self.token_s = capacity, round_s, token_s
        self._queue: deque[_Prompt] = deque()
        self._cv = threading.Condition()
        self.busy_s = 0.0
        self.rounds = self.prompts = self.open = self.max_open = 0
        self.first: float | None = None
        self.last: float | None = None
        threading.Thread(target=self._rounds, daemon=True).start()

    def generate(self, texts: list[str], params: list[dict] | dict) -> list[dict]:
        params = params if isinstance(params, list) else [params] * len(texts)
        prompts = [_Prompt(int(p.get("max_new_tokens", 160))) for p in params]
        with self._cv:
            self.open += 1
            self.max_open = max(self.max_open, self.open)
            self.first = self.first or time.monotonic()
            self._queue.extend(prompts)
            self._cv.notify_all()
        for p in prompts:
            p.done.wait()
        with self._cv:
            self.open -= 1
        return sglang_answers(texts, [CAPTION] * len(texts))

    def _rounds(self) -> None:
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._queue)
                batch = [self._queue.popleft() for _ in range(min(self.capacity, len(self._queue)))]
            seconds = self.round_s + self.token_s * max(p.tokens for p in batch)
            time.sleep(seconds)
            with self._cv:
                self.busy_s += seconds
                self.rounds += 1
                self.prompts += len(batch)
                self.last = time.monotonic()
            for p in batch:
                p.done.set()

    def figures(self) -> dict:
        with self._cv:
            span = (self.last - self.first) if self.first and self.last else 0.0
            return {
                "prompts": self.prompts,
                "rounds": self.rounds,
                "busy_share": self.busy_s / span if span else 0.0,
                "fill": self.prompts / (self.rounds * self.capacity) if self.rounds else 0.0,
                "max_open": self.max_open,
                "span_s": span,
            }


class _Handler(JsonHandler):
    def do_GET(self):
        gpu = self.server.gpu
        if self.path == "/get_model_info":
            self.reply(200, {"model_path": "imitation/gpu-server", "is_generation": True})
        elif self.path == "/figures":
            self.reply(200, gpu.figures())
        else:
            self.send_error(404)

    def do_POST(self):
        body = self.body()
        if self.path != "/generate":
            return self.send_error(404)
        self.reply(200, self.server.gpu.generate(body["text"], body.get("sampling_params") or {}))


class GpuServer(ThreadedServer):
    """``GpuImitation`` behind HTTP on a loopback port, served from daemon threads."""

    def __init__(self, port: int = 0, **imitation):
        super().__init__(_Handler, port)
        self.httpd.gpu = self.gpu = GpuImitation(**imitation)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=30000)
    parser.add_argument("--capacity", type=int, default=64)
    parser.add_argument("--round-s", type=float, default=0.2)
    parser.add_argument("--token-s", type=float, default=0.005)
    args = parser.parse_args()
    with GpuServer(args.port, capacity=args.capacity, round_s=args.round_s,
                   token_s=args.token_s) as server:
        print(server.url, flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
