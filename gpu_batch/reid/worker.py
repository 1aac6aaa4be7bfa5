"""The re-ID worker: long-polls the reid queue; each message is a batch of detections to re-identify
(or a backfill shard, or a run of the merge job).

`process_one_message` handles one message: embed the batch's open detections (GPU when present),
score them against every deer, assign or create deer and log every score in one transaction
(gpu_batch.reid.pipeline / assignment), then delete the message. It is idempotent: detections that
are already re-identified are left alone, so a redelivered message changes nothing.

While it works on a message it keeps the message invisible on a heartbeat (visibility.py), so the
reid queue's visibility timeout can be short: a killed worker's batch is back within a minute.

Failures: a message that is not a valid `reid.batch` can never succeed; it is moved to the reid
dead-letter queue at once (and deleted from the reid queue). Anything else (PostgreSQL or S3 down,
a bug) leaves the message on the queue, which redelivers it and, after maxReceiveCount attempts,
moves it to the dead-letter queue; nothing is half-written because the commit is one transaction.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from pydantic import ValidationError

from deertrack.aws import client
from deertrack.logs import logger
from deertrack.messages import BackfillShardMessage, MergeJobMessage, ReidBatchMessage, parse_message
from deertrack.queues import Received, dead_letter_queue_url, delete
from deertrack.settings import get_settings
from gpu_batch.queue_loop import StopSignal, consume
from gpu_batch.reid.embedder import Embedder, current_embedder
from gpu_batch.reid.pipeline import ReidSummary, reidentify
from gpu_batch.visibility import keep_visible


@dataclass(frozen=True)
class Outcome:
    message_id: str
    status: str  # 'done' | 'dead_lettered' | 'kept'
    summary: ReidSummary | None = None
    error: str | None = None


def _dead_letter(queue_name: str, message: Received, reason: str) -> bool:
    target = dead_letter_queue_url(queue_name)
    if target is None:
        return False
    client("sqs").send_message(
        QueueUrl=target, MessageBody=message.body,
        MessageAttributes={"error": {"DataType": "String", "StringValue": reason[:1000]},
                           "source_message_id": {"DataType": "String", "StringValue": message.message_id}},
    )
    delete(queue_name, message.receipt_handle)
    return True


def process_one_message(message: Received, *, embedder: Embedder | None = None,
                        queue_name: str | None = None) -> Outcome:
    """Handle one message of the reid queue; deletes it when done (or dead-letters it when malformed)."""
    queue_name = queue_name or get_settings().reid_queue_name
    try:
        parsed = parse_message(message.body)
        if not isinstance(parsed, ReidBatchMessage | BackfillShardMessage | MergeJobMessage):
            raise TypeError(f"a {parsed.type} message does not belong on the reid queue")
    except (ValidationError, TypeError, ValueError) as exc:
        reason = f"not a valid reid.batch message: {exc}"
        moved = _dead_letter(queue_name, message, reason)
        logger.error("malformed re-ID message", extra={"message_id": message.message_id, "error": reason,
                                                       "dead_lettered": moved})
        return Outcome(message.message_id, "dead_lettered" if moved else "kept", error=reason)
    if isinstance(parsed, BackfillShardMessage):  # backfill shards share the reid queue (issue 6)
        from gpu_batch.backfill.job import process_backfill_message

        process_backfill_message(message, parsed, queue_name)
        return Outcome(message.message_id, "done")
    if isinstance(parsed, MergeJobMessage):  # the merge job shares the reid queue (and its gallery lock)
        from deertrack.reid.merge_requests import run_merge_message

        with keep_visible(queue_name, message):
            run_merge_message(parsed)
        delete(queue_name, message.receipt_handle)
        return Outcome(message.message_id, "done")
    with keep_visible(queue_name, message):
        summary = reidentify(parsed.detection_ids, embedder=embedder, batch_id=parsed.batch_id)
    delete(queue_name, message.receipt_handle)
    logger.info("re-ID message done", extra={"message_id": message.message_id, "batch_id": parsed.batch_id,
                                              **summary.as_log()})
    return Outcome(message.message_id, "done", summary)


class ReidWorker:
    def __init__(self, queue_name: str | None = None, embedder: Embedder | None = None) -> None:
        self.queue_name = queue_name or get_settings().reid_queue_name
        self.embedder = embedder

    def run(self, signals: StopSignal, wait_seconds: int = 20, once: bool = False) -> int:
        embedder = self.embedder or current_embedder()
        logger.info("re-ID worker started", extra={"queue": self.queue_name, "model": embedder.name,
                                                   "device": str(embedder.device)})
        handled = consume(self.queue_name,
                          lambda message: process_one_message(message, embedder=embedder, queue_name=self.queue_name),
                          signals, wait_seconds=wait_seconds, once=once)
        logger.info("re-ID worker stopped", extra={"queue": self.queue_name, "handled": handled})
        return handled


def main(argv: list[str] | None = None) -> int:
    """`deertrack worker reid [--once] [--wait-seconds N]`: run until SIGTERM / SIGINT."""
    parser = argparse.ArgumentParser(prog="deertrack worker reid")
    parser.add_argument("--once", action="store_true", help="stop when the queue is empty")
    parser.add_argument("--wait-seconds", type=int, default=20, choices=range(0, 21), metavar="0-20",
                        help="SQS long-poll wait (default 20)")
    args = parser.parse_args(argv or [])
    ReidWorker().run(StopSignal().install(), wait_seconds=args.wait_seconds, once=args.once)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
