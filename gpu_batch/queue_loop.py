"""How a batch worker consumes its queue until it is stopped.

`consume` long-polls one message at a time and hands each to the worker; SQS being down is waited
out, a message the handler raises on is left for the queue to redeliver (and, after maxReceiveCount,
to dead-letter; the last delivery's error is kept by message id, so the dead-letter sweep can say why).
SIGTERM / SIGINT (AWS Batch, `deertrack up`, Ctrl-C) stop the loop at once while it waits on an idle
long poll, and after the message in hand otherwise: a 20 s long poll must not make
them wait 20 s."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from deertrack import delivery_errors
from deertrack.logs import logger
from deertrack.queues import Received, receive

T = TypeVar("T")


class StopPolling(BaseException):
    """Raised from the signal handler inside an idle long poll (never while work is in hand)."""


class StopSignal:
    """`stop` is set by SIGTERM / SIGINT once install() ran; `poll(receive)` returns None when a
    signal ended the wait."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self._idle = False

    def install(self) -> StopSignal:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        return self

    def _on_signal(self, signum: int, frame: object) -> None:
        self.stop.set()
        if self._idle:
            raise StopPolling

    @contextmanager
    def _idle_wait(self) -> Iterator[None]:
        self._idle = True
        try:
            yield
        finally:
            self._idle = False

    def poll(self, receive: Callable[[], T]) -> T | None:
        """Run `receive()` (a long poll) so that a stop signal ends it at once."""
        if self.stop.is_set():
            return None
        try:
            with self._idle_wait():
                return receive()
        except StopPolling:
            return None


def consume(queue_name: str, handle: Callable[[Received], object], signals: StopSignal, *, wait_seconds: int = 20,
            once: bool = False, between_polls: Callable[[], None] | None = None) -> int:
    """Handle messages from `queue_name` until stopped (or, with `once`, until a poll comes back
    empty); returns how many were handled without an exception. `between_polls` runs before each poll
    (periodic housekeeping)."""
    handled = 0
    stop = signals.stop
    while not stop.is_set():
        if between_polls is not None:
            between_polls()
        try:
            messages = signals.poll(lambda: receive(queue_name, max_messages=1, wait_seconds=wait_seconds))
        except Exception:  # noqa: BLE001 - SQS unreachable: wait, then poll again
            logger.exception("cannot receive from the queue; retrying in 5 s", extra={"queue": queue_name})
            stop.wait(5)
            continue
        if messages is None:  # a stop signal ended the idle wait
            break
        for message in messages:
            try:
                handle(message)
                handled += 1
            except Exception as exc:  # noqa: BLE001 - e.g. Redis or PostgreSQL down: the queue redelivers it
                delivery_errors.record_if_last(queue_name, message.message_id, message.receive_count,
                                               f"{type(exc).__name__}: {exc}")
                logger.exception("message not handled; the queue will redeliver it",
                                 extra={"queue": queue_name, "message_id": message.message_id,
                                        "receive_count": message.receive_count})
        if once and not messages:
            break
    return handled
