"""Workers stop at once on SIGTERM while idle on a long poll, and only after the work in hand otherwise."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from gpu_batch.stop_signal import StopSignal


@pytest.fixture()
def signals() -> Iterator[StopSignal]:
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield StopSignal().install()
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _term_soon(delay: float = 0.2) -> None:
    threading.Timer(delay, os.kill, (os.getpid(), signal.SIGTERM)).start()


def test_sigterm_ends_an_idle_long_poll_at_once(signals: StopSignal) -> None:
    _term_soon()
    started = time.monotonic()
    assert signals.poll(lambda: time.sleep(30) or ["never"]) is None
    assert time.monotonic() - started < 10
    assert signals.stop.is_set()


def test_sigterm_during_work_only_sets_stop(signals: StopSignal) -> None:
    _term_soon()
    time.sleep(0.6)  # "work in hand": the signal arrives outside poll()
    assert signals.stop.is_set()
    assert signals.poll(lambda: ["message"]) is None  # no new work is taken once stopping


def test_poll_returns_what_receive_returns(signals: StopSignal) -> None:
    assert signals.poll(lambda: ["a", "b"]) == ["a", "b"]
    assert not signals.stop.is_set()
