"""The visibility heartbeat: beats while the work goes on, never after the block ends."""

from __future__ import annotations

import threading
import time

from deertrack.queues import Received
from gpu_batch.visibility import keep_visible

MESSAGE = Received("m-1", "receipt-1", "{}", 1)


def test_it_extends_the_message_by_a_whole_timeout_every_third_of_it_while_the_work_goes_on() -> None:
    beats: list[tuple[str, str, int]] = []
    with keep_visible("q", MESSAGE, timeout=0.3, extend=lambda *args: beats.append(args)):  # type: ignore[arg-type]
        deadline = time.monotonic() + 5
        while len(beats) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert len(beats) >= 3
    assert set(beats) == {("q", "receipt-1", 0.3)}


def test_no_beat_lands_after_the_block_so_a_retry_delay_set_next_is_kept() -> None:
    beats: list[float] = []
    in_flight = threading.Event()

    def slow_extend(queue: str, receipt: str, seconds: int) -> None:
        in_flight.set()
        time.sleep(0.2)  # a beat in flight when the block ends
        beats.append(time.monotonic())

    with keep_visible("q", MESSAGE, timeout=0.15, extend=slow_extend):  # type: ignore[arg-type]
        in_flight.wait(5)
    ended = time.monotonic()
    time.sleep(0.4)
    assert beats and all(t <= ended for t in beats)


def test_a_failing_beat_does_not_stop_the_work_or_the_next_beats() -> None:
    calls: list[int] = []

    def flaky(queue: str, receipt: str, seconds: int) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("SQS unreachable")

    with keep_visible("q", MESSAGE, timeout=0.15, extend=flaky):  # type: ignore[arg-type]
        deadline = time.monotonic() + 5
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert len(calls) >= 2
