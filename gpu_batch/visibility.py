"""Keep the message in hand invisible while a worker works on it, so that a dead worker's message comes back fast.

The batch-fed queues have short visibility timeouts (30 s, template.yaml): a worker that is killed
(OOM, spot reclaim, SIGKILL) stops extending its message, which reappears within 30 s for the
next worker, which resumes or restarts the job (every worker is idempotent). A worker that lives
extends the visibility on a heartbeat, every third of the timeout, by a whole timeout, for as long
as it works on the message — however long one step takes, and whatever the job reports as progress.

`keep_visible` is a context manager around the work; when it exits, the heartbeat has stopped, so
what the worker does next with the message (delete it, or delay its retry) is never overwritten by
a late beat.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from deertrack.logs import logger
from deertrack.queues import Received, change_visibility, queue_policy

#: Beats per visibility timeout: a beat may be late or fail twice before the message reappears.
BEATS_PER_TIMEOUT = 3


@contextmanager
def keep_visible(queue_name: str, message: Received, timeout: int | None = None,
                 extend: Callable[[str, str, int], None] = change_visibility) -> Iterator[threading.Event]:
    """Extend `message`'s visibility by `timeout` seconds (default: the queue's own) every timeout / 3
    seconds until the block ends. Yields the event that stops the heartbeat (set when the block ends)."""
    seconds = timeout or queue_policy(queue_name).visibility_timeout
    stop = threading.Event()
    lock = threading.Lock()

    def beat() -> None:
        while not stop.wait(max(seconds / BEATS_PER_TIMEOUT, 0.05)):
            with lock:
                if stop.is_set():
                    return
                try:
                    extend(queue_name, message.receipt_handle, seconds)
                except Exception as exc:  # noqa: BLE001 - the next beat tries again; the work goes on
                    logger.warning("cannot extend the message's visibility",
                                   extra={"queue": queue_name, "message_id": message.message_id, "error": str(exc)})

    thread = threading.Thread(target=beat, name=f"visibility-{message.message_id[:8]}", daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        with lock:  # a beat in flight finishes before the caller acts on the message
            stop.set()
        thread.join(timeout=5)
