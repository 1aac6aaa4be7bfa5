"""Run an I/O-bound function over items on a few threads, yielding results in input order with a
bounded number in flight (so a 10,000-image archive never holds more than `window` images)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(func: Callable[[T], R], items: Iterable[T], workers: int = 4, window: int = 16) -> Iterator[R]:
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="export-io") as pool:
        pending: deque[Future[R]] = deque()
        try:
            for item in items:
                pending.append(pool.submit(func, item))
                if len(pending) >= window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:  # stopped early (cancelled, failed): drop what is queued
                future.cancel()
