"""The service watch's decisions (infra/service_watch.py), on stand-in services: restart with a backoff,
provision after a restart. Real servers are killed in tests/integration/test_service_watch.py."""

from __future__ import annotations

import time

from infra.service_watch import ServiceWatch, Watched


def test_a_restart_that_fails_is_tried_again_after_a_backoff() -> None:
    attempts: list[float] = []

    def restart() -> None:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            raise RuntimeError("port busy")

    up = {"now": False}
    watched = Watched("Redis", "redis://127.0.0.1:1/0", lambda: up["now"], restart,
                      provision=lambda: up.update(now=True))
    watch = ServiceWatch([watched])
    watch.check()  # restart fails
    watch.check()  # within the backoff: not tried
    assert len(attempts) == 1 and "could not be restarted" in watched.events[-1]
    watched.next_try = 0  # the backoff has passed
    watch.check()
    assert len(attempts) == 2 and watched.restarts == 1 and up["now"]
    assert watched.events[-1] == "the throwaway Redis was restarted"


def test_a_live_service_is_left_alone() -> None:
    restarted: list[bool] = []
    watched = Watched("PostgreSQL", "postgresql://127.0.0.1:1/x", lambda: True, lambda: restarted.append(True))
    ServiceWatch([watched]).check()
    assert restarted == [] and watched.events == []
