"""Chaos: the AWS emulator dies in the middle of a ZIP and comes back empty, as `deertrack up` brings it back.

The emulator loses everything (moto: its state is reset and its server stopped; LocalStack: its process
group is SIGKILLed, and it restarts with an empty run folder). The stack's service watch (the same one
`deertrack up` runs, infra/service_watch.py) sees it gone, starts it again on the same port and creates
the queues, buckets and notifications of template.yaml again. The export in flight then ends: completed
(the pictures it had not fetched yet are gone with the emulator, and the archive says so), or failed with
a reason; never stuck `processing`, and its message is not left behind. The recovery time is printed:

    pytest tests/e2e/test_chaos_emulator_restart.py -s                       # moto
    pytest tests/e2e/test_chaos_emulator_restart.py -s --emulator localstack
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from deertrack import db
from deertrack.aws import client
from deertrack.jobs import JobStore
from deertrack.queues import queue_url
from deertrack.settings import get_settings
from infra.resources import provision
from infra.service_watch import ServiceWatch, Watched
from tests.chaos import ZIP, check_outputs, ended, log_tail, running, stop, wait_until, worker
from tests.export_data import build, enqueue

pytestmark = pytest.mark.e2e

DETECTIONS = 600


def _crash(emulator) -> None:  # noqa: ANN001 - an Emulator
    """Kill the emulator so that it loses its state."""
    process = getattr(emulator, "process", None)
    if process is not None:  # LocalStack: a process group of its own
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    else:  # moto: a server thread of this process, whose state lives on in the process unless reset
        emulator.reset()
        emulator.stop()


def _messages(queue_name: str) -> int:
    attributes = client("sqs").get_queue_attributes(
        QueueUrl=queue_url(queue_name),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                        "ApproximateNumberOfMessagesDelayed"])["Attributes"]
    return sum(int(v) for v in attributes.values())


def test_an_export_ends_when_its_emulator_restarts_empty(stack, tmp_path) -> None:
    settings = get_settings()
    emulator = stack.emulator
    with db.connection() as con:
        build(con, detections=DETECTIONS, days=150, upload_images=True, images_bucket=settings.images_bucket)
    store = JobStore()
    job_id = enqueue("zip", ZIP, total=DETECTIONS)
    watched = Watched("AWS emulator", emulator.url, emulator.alive, emulator.restart,
                      provision=lambda: provision(settings.stage, eventbridge=False))
    watch = ServiceWatch([watched], interval=0.5).start()
    log = tmp_path / "export-worker.log"
    export_worker = worker("exports", log)
    try:
        assert wait_until(lambda: running(store, job_id), 120), "the worker never got going"
        at = store.get(job_id).progress.percent
        _crash(emulator)
        crashed = time.monotonic()
        assert wait_until(lambda: watched.restarts == 1, 120), watched.events
        back = time.monotonic()
        assert wait_until(lambda: ended(store, job_id), 120, every=0.2), (store.get(job_id), log_tail(log))
        ended_after = time.monotonic() - crashed
        [job] = check_outputs(store, [job_id])
        assert wait_until(lambda: _messages(settings.exports_queue_name) == 0, 60), "its message was left behind"
        print(f"\nthe {emulator.name} emulator died empty at {at}% of the ZIP; the service watch had it back and "
              f"provisioned {back - crashed:.1f} s later; the job ended {job.status.value} (attempt {job.attempts}) "
              f"{ended_after:.1f} s after the crash" + (f": {job.error}" if job.error else ""))
        assert "the throwaway AWS emulator was restarted" in watched.events
    finally:
        watch.stop()
        stop(export_worker)
        # A LocalStack that the watch's thread started ends with that thread (its launcher sets PR_SET_PDEATHSIG,
        # which follows the thread that forked it), so the one the rest of the session uses is started from here.
        if emulator.name == "localstack" or not emulator.alive():
            emulator.restart()
