"""The shared retry policy: how many tries, which errors, what is raised at the end."""

from __future__ import annotations

import time

import pytest

from rsteller_db.retrying import retrying


def run(policy, fn):
    tries = 0
    for attempt in policy:
        with attempt:
            tries = attempt.retry_state.attempt_number
            fn(tries)
    return tries


def test_retries_until_success_and_counts_tries():
    def flaky(n):
        if n < 3:
            raise ConnectionError(f"try {n}")

    assert run(retrying(tries=5, backoff_s=0), flaky) == 3


def test_last_error_is_raised_as_itself_after_the_last_try():
    seen = []

    def always(n):
        seen.append(n)
        raise TimeoutError(f"try {n}")

    with pytest.raises(TimeoutError, match="try 3"):
        run(retrying(tries=3, backoff_s=0), always)
    assert seen == [1, 2, 3]


def test_errors_outside_retry_if_are_not_retried():
    seen = []

    def gone(n):
        seen.append(n)
        raise FileNotFoundError("404")

    policy = retrying(tries=5, backoff_s=0, retry_if=lambda e: not isinstance(e, OSError))
    with pytest.raises(FileNotFoundError):
        run(policy, gone)
    assert seen == [1]


def test_deadline_stops_and_backoff_waits():
    started = time.monotonic()
    with pytest.raises(RuntimeError):
        run(retrying(deadline_s=0.3, backoff_s=0.05, max_wait_s=0.1),
            lambda n: (_ for _ in ()).throw(RuntimeError("busy")))
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 2.0


def test_a_policy_needs_a_limit():
    with pytest.raises(ValueError):
        retrying(backoff_s=0.1)
