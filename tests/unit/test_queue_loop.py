"""Workers stop at once on SIGTERM while idle on a long poll, and only after the work in hand otherwise."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from gpu_batch import queue_loop
from gpu_batch.queue_loop import StopSignal


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


class _Queue:
    """receive() stand-in: hands out the given batches, then empty polls."""

    def __init__(self, *batches: list[str]) -> None:
        self.batches = list(batches)

    def __call__(self, queue_name: str, **_: object) -> list:
        from deertrack.queues import Received

        batch = self.batches.pop(0) if self.batches else []
        return [Received(body, f"rh-{body}", body, 1) for body in batch]


def test_consume_hands_each_message_over_and_survives_a_failing_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("gpu_batch.queue_loop.receive", _Queue(["a"], ["boom"], ["b"]))
    seen: list[str] = []

    def handle(message) -> None:  # noqa: ANN001
        seen.append(message.body)
        if message.body == "boom":
            raise RuntimeError("PostgreSQL down")

    assert queue_loop.consume("q", handle, StopSignal(), wait_seconds=0, once=True) == 2
    assert seen == ["a", "boom", "b"]


def test_consume_waits_out_an_unreachable_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    signals = StopSignal()

    def receive(queue_name: str, **_: object) -> list:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("SQS unreachable")
        return []

    monkeypatch.setattr("gpu_batch.queue_loop.receive", receive)
    monkeypatch.setattr(signals.stop, "wait", lambda seconds: False)  # no real 5 s pause
    assert queue_loop.consume("q", lambda m: None, signals, wait_seconds=0, once=True) == 0
    assert len(calls) == 2
