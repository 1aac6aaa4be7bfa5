"""The visibility heartbeat against the emulator's SQS: a message a living worker holds stays hidden past
its timeout; once the worker stops beating (it died), the message is back for the next one."""

from __future__ import annotations

import time
import uuid

import pytest

from deertrack.aws import client
from deertrack.queues import receive
from gpu_batch.visibility import keep_visible

pytestmark = pytest.mark.integration


def test_a_held_message_stays_hidden_and_comes_back_once_the_heartbeat_stops(stack) -> None:
    sqs = client("sqs")
    name = f"visibility-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "2"})["QueueUrl"]
    try:
        sqs.send_message(QueueUrl=url, MessageBody="{}")
        (message,) = receive(name, max_messages=1, wait_seconds=1)
        with keep_visible(name, message, timeout=2):
            time.sleep(4.5)  # twice the timeout: without the heartbeat it would have been delivered again
            assert receive(name, max_messages=1, wait_seconds=0) == []
        # the worker is gone: no more beats; the message is back within one timeout
        started = time.monotonic()
        again = []
        while not again and time.monotonic() - started < 10:
            again = receive(name, max_messages=1, wait_seconds=1)
        assert again and again[0].message_id == message.message_id and again[0].receive_count == 2
        print(f"message back {time.monotonic() - started:.1f} s after the last beat stopped")
    finally:
        sqs.delete_queue(QueueUrl=url)
