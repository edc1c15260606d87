"""The embedded SmolLM2 model served over HTTP by llama.cpp's OpenAI-compatible server.

The tests and ``bench/captioning.py`` start it on loopback to exercise the ``openai`` back end
against a real model; a user can do the same to try that back end without a GPU::

    python -m rsteller_db.caption.llama_server --port 8000
    rsteller-db caption --backend openai --url http://127.0.0.1:8000

The server runs ``llama_cpp.server`` inside this module's ``serve`` entry, which first applies
the plain-CPU-buffer safeguard (``llama_safe``: AMX weight repacking segfaults on some Xeons);
``python -m llama_cpp.server`` started directly would not have it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from .backends.base import BackendError
from .backends.local import cpu_threads, smollm2_gguf
from .llama_safe import effective_model_params, plain_cpu_buffers

SMOLLM2_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"


def server_command(port: int, host: str = "127.0.0.1", n_ctx: int = 4096,
                   threads: int = 0) -> list[str]:
    """llama.cpp's server (through ``serve``) for the SmolLM2 GGUF, reporting the model by its
    hub id, on ``threads`` CPU threads (0: all cores)."""
    return [
        sys.executable, "-m", __name__, "serve",
        "--model", str(smollm2_gguf()),
        "--model_alias", SMOLLM2_ID,
        "--host", host,
        "--port", str(port),
        "--n_ctx", str(n_ctx),
        "--n_threads", str(cpu_threads(threads)),
        "--n_threads_batch", str(cpu_threads(threads)),
        "--verbose", "False",
    ]  # fmt: skip


def wait_until_up(url: str, proc: subprocess.Popen | None = None, timeout_s: float = 120) -> None:
    """Poll ``/v1/models`` until the server answers; fail early if its process exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise BackendError(f"server at {url} exited with code {proc.returncode}")
        try:
            if httpx.get(url + "/v1/models", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise BackendError(f"server at {url} did not come up in {timeout_s} s")


def start(port: int, log: Path, host: str = "127.0.0.1", threads: int = 0) -> subprocess.Popen:
    """Start the server with its output in ``log`` and wait until it answers."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(server_command(port, host, threads=threads), stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        wait_until_up(f"http://{host}:{port}", proc)
    except BackendError:
        proc.kill()
        proc.wait()
        raise
    return proc


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def serve(argv: list[str]) -> None:
    """``llama_cpp.server``'s own entry with ``argv``, after the safeguard."""
    plain_cpu_buffers()
    from llama_cpp.server.__main__ import main as llama_main

    sys.argv = ["llama_cpp.server", *argv]
    llama_main()


def main() -> None:
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--print-params",
        action="store_true",
        help="print the llama.cpp model parameters the server would load with, and exit",
    )
    args = parser.parse_args()
    if args.print_params:
        print(json.dumps(effective_model_params()))
        return
    os.execv(sys.executable, server_command(args.port, args.host))


if __name__ == "__main__":
    main()
