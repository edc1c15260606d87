"""HTTP plumbing shared by the server back ends: a least-loaded URL pool and retried POSTs."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from ...retrying import retrying
from .base import BackendError, BackendOptions

RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}


class EndpointPool:
    """Several base URLs; each request goes to the one with the fewest requests in flight."""

    def __init__(self, urls: tuple[str, ...]):
        if not urls:
            raise BackendError("this back end needs a server: pass --url http://HOST:PORT")
        self.urls = tuple(u.rstrip("/") for u in urls)
        self._load = dict.fromkeys(self.urls, 0)
        self._turn = 0
        self._lock = threading.Lock()

    @contextmanager
    def lease(self):
        with self._lock:
            self._turn += 1
            order = (
                self.urls[self._turn % len(self.urls) :] + self.urls[: self._turn % len(self.urls)]
            )
            url = min(order, key=self._load.__getitem__)
            self._load[url] += 1
        try:
            yield url
        finally:
            with self._lock:
                self._load[url] -= 1


@dataclass
class Reply:
    data: Any
    url: str
    latency_s: float


class RequestFailed(Exception):
    """A request that failed after every retry; ``str()`` is the reason stored with it."""


class _Transient(Exception):
    """A failure worth another try; its text says what happened."""


class HttpClient:
    """POST JSON with retries and exponential backoff on timeouts, 5xx and dropped connections."""

    def __init__(self, options: BackendOptions, pool_size: int = 64):
        self.options = options
        self.pool = EndpointPool(options.urls)
        limits = httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size)
        self.client = httpx.Client(timeout=options.timeout_s, limits=limits)

    def get(self, url: str, path: str, timeout_s: float = 10.0) -> Any:
        """One GET for start-up checks: any failure is a ``BackendError`` naming the URL."""
        try:
            response = self.client.get(url + path, timeout=timeout_s)
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise BackendError(
                f"cannot reach the caption server at {url} ({type(exc).__name__}: {exc}): "
                "start the server or fix --url"
            ) from exc

    def post(self, path: str, body: dict) -> Reply:
        tries = self.options.retries + 1
        try:  # the project's retry policy: timeouts, dropped connections, 5xx, broken JSON
            for attempt in retrying(tries=tries, backoff_s=self.options.backoff_s,
                                    retry_if=lambda exc: isinstance(exc, _Transient)):
                with attempt:
                    return self._post_once(path, body)
        except _Transient as exc:
            raise RequestFailed(f"{exc} ({tries} tries)") from None
        raise AssertionError("unreachable: retrying() returns or raises")

    def _post_once(self, path: str, body: dict) -> Reply:
        with self.pool.lease() as url:
            t0 = time.perf_counter()
            try:
                response = self.client.post(url + path, json=body)
            except httpx.TimeoutException:
                raise _Transient(f"timeout after {self.options.timeout_s:g} s at {url}") from None
            except httpx.TransportError as exc:
                raise _Transient(f"connection error at {url}: {type(exc).__name__}") from None
            latency = time.perf_counter() - t0
        if response.status_code in RETRYABLE_STATUS:
            raise _Transient(f"HTTP {response.status_code} from {url}")
        if response.status_code >= 400:
            raise RequestFailed(f"HTTP {response.status_code} from {url}: {response.text[:200]}")
        try:
            return Reply(response.json(), url, latency)
        except ValueError:
            raise _Transient(f"invalid JSON from {url}") from None

    def close(self) -> None:
        self.client.close()
