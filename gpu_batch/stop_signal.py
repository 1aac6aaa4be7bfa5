"""How a batch worker stops on SIGTERM / SIGINT: at once while it waits on an idle long poll, after the
message in hand otherwise. AWS Batch, `deertrack up` and Ctrl-C all stop workers with these signals;
a 20 s long poll must not make them wait 20 s."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

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
