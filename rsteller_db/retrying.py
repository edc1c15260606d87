"""The project's one retry policy: tenacity, exponential back-off with jitter.

Every loop that tries something again (a patch read, an HTTP request, a commit that waits for
the warehouse lock) builds its policy here instead of writing its own loop::

    for attempt in retrying(tries=3, backoff_s=0.5, retry_if=is_transient):
        with attempt:
            do_the_thing()

The last error is re-raised as itself when the tries or the time run out. ``attempt_number``
of ``attempt.retry_state`` says how many tries were made.
"""

from __future__ import annotations

from collections.abc import Callable

import tenacity


def retrying(
    *,
    tries: int | None = None,
    deadline_s: float | None = None,
    backoff_s: float = 0.5,
    max_wait_s: float = 30.0,
    retry_if: Callable[[BaseException], bool] | None = None,
) -> tenacity.Retrying:
    """A policy that stops after ``tries`` attempts or ``deadline_s`` seconds (whichever comes
    first; at least one must be given), waits ``backoff_s * 2**n`` seconds (plus up to
    ``backoff_s`` of jitter, at most ``max_wait_s``) before try ``n + 2``, and retries only the
    errors for which ``retry_if`` is true (every ``Exception`` by default)."""
    if tries is None and deadline_s is None:
        raise ValueError("retrying() needs tries or deadline_s")
    stops = []
    if tries is not None:
        stops.append(tenacity.stop_after_attempt(max(1, tries)))
    if deadline_s is not None:
        stops.append(tenacity.stop_after_delay(deadline_s))
    wait = (
        tenacity.wait_exponential(multiplier=backoff_s, max=max_wait_s)
        + tenacity.wait_random(0, backoff_s)
        if backoff_s > 0
        else tenacity.wait_none()
    )
    check = retry_if or (lambda exc: isinstance(exc, Exception))
    return tenacity.Retrying(
        stop=tenacity.stop_any(*stops),
        wait=wait,
        retry=tenacity.retry_if_exception(check),
        reraise=True,
    )
