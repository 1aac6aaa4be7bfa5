"""The local event pump: what AWS does between services, done on one machine.

For every function in template.yaml with an SQS event source it long-polls that queue and calls the
Chalice handler with a Lambda-shaped SQS event (up to BatchSize records) and a LambdaContext stand-in:
messages are deleted when the handler returns, all but the ones it names in `batchItemFailures` when
it reports partial failures, and none when it raises (the queue's redrive policy then moves them to
the dead-letter queue after maxReceiveCount receives, as in AWS). S3 notifications arrive the same
way, through their queue. Schedules: on LocalStack EventBridge fires the rules of template.yaml into
queues that stand in for the functions (infra/eventbridge.py), and the pump calls each scheduled handler
with the event EventBridge delivered (`schedules="eventbridge"`); on moto, which never fires rules, the
pump keeps the clock itself and fires an EventBridge "Scheduled Event" at the times each rate(...) /
cron(...) names (`schedules="clock"`).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from deertrack.aws import client
from deertrack.logs import logger
from deertrack.settings import get_settings
from infra.eventbridge import target_queue_name
from infra.schedules import Cron, Rate, parse_schedule
from infra.template import (
    TEMPLATE_PATH,
    Declarations,
    FunctionSettings,
    HandlerDecl,
    declarations,
    function_settings,
)

ACCOUNT_ID = "123456789012"
#: A scheduled event whose handler raised is tried this often in all, as Lambda's asynchronous
#: invocation does (the first try and two retries), then dropped with an error in the log.
SCHEDULE_ATTEMPTS = 3
SCHEDULE_SOURCES = ("clock", "eventbridge")
Handler = Callable[[dict[str, Any], Any], Any]


def utc_now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------------------------------ Lambda shapes


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that handlers and powertools read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    timeout_seconds: int
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local/[$LATEST]event-pump"
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One record of a Lambda SQS event, from one message of ReceiveMessage."""
    attributes = {k: str(v) for k, v in message.get("Attributes", {}).items()}
    attributes.setdefault("ApproximateReceiveCount", "1")
    message_attributes: dict[str, Any] = {}
    for name, value in message.get("MessageAttributes", {}).items():
        binary = value.get("BinaryValue")
        message_attributes[name] = {
            "stringValue": value.get("StringValue"),
            "binaryValue": base64.b64encode(binary).decode() if binary is not None else None,
            "stringListValues": value.get("StringListValues", []),
            "binaryListValues": [base64.b64encode(b).decode() for b in value.get("BinaryListValues", [])],
            "dataType": value.get("DataType", "String"),
        }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def scheduled_event(rule_name: str, fire_time: datetime, region: str) -> dict[str, Any]:
    """The event EventBridge sends a target of a schedule rule."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": fire_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{ACCOUNT_ID}:rule/{rule_name}"],
        "detail": {},
    }


def failed_ids(result: Any, message_ids: list[str]) -> tuple[set[str], str | None]:
    """Which messages a handler's return value reports as failed, as Lambda reads `batchItemFailures`.

    Returns (failed ids, problem). Lambda fails the whole batch when the response names an id that is
    not in the batch or an empty one; `problem` then says why.
    """
    if not isinstance(result, dict) or not result.get("batchItemFailures"):
        return set(), None
    failures = result["batchItemFailures"]
    if not isinstance(failures, list):
        return set(message_ids), "batchItemFailures is not a list"
    failed: set[str] = set()
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not identifier or identifier not in message_ids:
            return set(message_ids), f"batchItemFailures names {identifier!r}, which is not a message of this batch"
        failed.add(identifier)
    return failed, None


# ------------------------------------------------------------------------------------------ routes


@dataclass
class BatchOutcome:
    received: int = 0
    deleted: int = 0
    failed: int = 0
    error: str | None = None


@dataclass
class SqsRoute:
    decl: HandlerDecl
    queue_name: str
    handler: Handler
    settings: FunctionSettings
    queue_url: str | None = None
    queue_arn: str | None = None

    def resolve(self) -> None:
        if self.queue_url is None:
            sqs = client("sqs")
            url = sqs.get_queue_url(QueueName=self.queue_name)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            self.queue_url, self.queue_arn = url, arn


@dataclass
class ScheduleRoute:
    decl: HandlerDecl
    schedule: Rate | Cron
    handler: Handler
    settings: FunctionSettings
    next_at: datetime | None = None


@dataclass
class EventBridgeRoute:
    """A schedule fired by EventBridge: its rule's events arrive on the queue standing in for the function."""

    decl: HandlerDecl
    queue_name: str
    handler: Handler
    settings: FunctionSettings
    queue_url: str | None = None

    def resolve(self) -> None:
        if self.queue_url is None:
            self.queue_url = client("sqs").get_queue_url(QueueName=self.queue_name)["QueueUrl"]


@dataclass
class PumpReport:
    received: int = 0
    deleted: int = 0
    failed: int = 0
    fired: int = 0
    errors: list[str] = field(default_factory=list)


class EventPump:
    """Calls the Chalice handlers declared in template.yaml with SQS and schedule events.

    `run_once()` handles what is there now (tests); `start()` / `stop()` run it in threads, one
    long-polling thread per queue and one for the schedules. `schedules` says who fires them: "clock"
    (the pump, for moto) or "eventbridge" (EventBridge, into the rules' target queues, for LocalStack).
    """

    def __init__(
        self,
        decl: Declarations | None = None,
        app_module: Any | None = None,
        *,
        wait_seconds: int = 2,
        clock: Callable[[], datetime] = utc_now,
        template_path: Path = TEMPLATE_PATH,
        schedules: str = "clock",
    ) -> None:
        if schedules not in SCHEDULE_SOURCES:
            raise ValueError(f"schedules must be one of {SCHEDULE_SOURCES}, got {schedules!r}")
        settings = get_settings()
        self.schedules = schedules
        self.decl = decl or declarations(settings.stage)
        if app_module is None:
            from infra.api_server import load_app_module

            app_module = load_app_module()
        self.region = settings.aws_region
        self.wait_seconds = wait_seconds
        self.clock = clock
        self.sqs_routes: list[SqsRoute] = []
        self.schedule_routes: list[ScheduleRoute] = []
        self.eventbridge_routes: list[EventBridgeRoute] = []
        self.skipped: list[str] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        limits = function_settings(template_path)
        for handler_decl in self.decl.handlers.values():
            if not handler_decl.queue and not handler_decl.schedule:
                continue
            attribute = handler_decl.handler.rsplit(".", 1)[-1]
            handler = getattr(app_module, attribute, None)
            if handler is None or not callable(handler):
                self.skipped.append(handler_decl.handler)
                logger.warning(
                    "handler declared in template.yaml is not in the app; the event pump skips it",
                    extra={"function": handler_decl.logical_id, "handler": handler_decl.handler},
                )
                continue
            function = limits.get(handler_decl.logical_id, FunctionSettings())
            if handler_decl.queue:
                self.sqs_routes.append(
                    SqsRoute(handler_decl, self.decl.queue_name(handler_decl.queue), handler, function)
                )
            if handler_decl.schedule and schedules == "eventbridge":
                assert handler_decl.schedule_name is not None
                self.eventbridge_routes.append(EventBridgeRoute(
                    handler_decl, target_queue_name(handler_decl.schedule_name), handler, function))
            elif handler_decl.schedule:
                route = ScheduleRoute(handler_decl, parse_schedule(handler_decl.schedule), handler, function)
                route.next_at = route.schedule.next_fire(self.clock())
                self.schedule_routes.append(route)

    # -------------------------------------------------------------------- SQS

    def _context(self, decl: HandlerDecl, settings: FunctionSettings) -> LambdaContext:
        name = f"deertrack-{self.decl.stage}-{decl.logical_id}"
        return LambdaContext(
            function_name=name,
            memory_limit_in_mb=settings.memory_mb,
            invoked_function_arn=f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{name}",
            aws_request_id=str(uuid.uuid4()),
            timeout_seconds=settings.timeout_seconds,
        )

    def deliver(self, route: SqsRoute, wait_seconds: int = 0) -> BatchOutcome:
        """Receive one batch from the route's queue and hand it to its handler."""
        route.resolve()
        sqs = client("sqs")
        response = sqs.receive_message(
            QueueUrl=route.queue_url,
            MaxNumberOfMessages=max(1, min(route.decl.batch_size, 10)),
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return BatchOutcome()
        assert route.queue_arn is not None
        records = [sqs_record(m, route.queue_arn, self.region) for m in messages]
        ids = [r["messageId"] for r in records]
        log = {"function": route.decl.logical_id, "handler": route.decl.handler, "queue": route.queue_name,
               "message_ids": ids}
        try:
            result = route.handler({"Records": records}, self._context(route.decl, route.settings))
        except Exception as exc:
            logger.exception(
                "handler raised; the batch stays on the queue for redelivery (dead-letter queue after "
                "maxReceiveCount)",
                extra={**log, "receive_counts": [r["attributes"]["ApproximateReceiveCount"] for r in records]},
            )
            return BatchOutcome(received=len(records), failed=len(records), error=f"{type(exc).__name__}: {exc}")
        failed, problem = failed_ids(result, ids)
        if failed and not route.settings.report_batch_item_failures:
            logger.warning(
                "handler returned batchItemFailures but template.yaml does not declare "
                "FunctionResponseTypes: [ReportBatchItemFailures]; Lambda ignores it and deletes the batch",
                extra=log,
            )
            failed, problem = set(), None
        if problem:
            logger.error("invalid batch response; the whole batch stays on the queue",
                         extra={**log, "problem": problem})
        done = [r for r in records if r["messageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start:start + 10]
            answer = sqs.delete_message_batch(
                QueueUrl=route.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)],
            )
            for error in answer.get("Failed", []):
                logger.error("could not delete a handled message", extra={**log, "error": error})
        level = logger.warning if failed else logger.info
        level("sqs batch handled", extra={**log, "deleted": len(done), "failed": sorted(failed)})
        return BatchOutcome(received=len(records), deleted=len(done), failed=len(failed), error=problem)

    # -------------------------------------------------------------------- schedules

    def deliver_scheduled(self, route: EventBridgeRoute, wait_seconds: int = 0) -> BatchOutcome:
        """Call the scheduled handler with each event EventBridge put on the route's queue.

        An event is deleted once its handler returns; when the handler raises it comes back after the
        queue's visibility timeout, and after SCHEDULE_ATTEMPTS tries it is dropped (logged as an error).
        """
        route.resolve()
        sqs = client("sqs")
        messages = sqs.receive_message(QueueUrl=route.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds,
                                       AttributeNames=["ApproximateReceiveCount"]).get("Messages", [])
        outcome = BatchOutcome(received=len(messages))
        for message in messages:
            attempt = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
            log = {"function": route.decl.logical_id, "handler": route.decl.handler, "queue": route.queue_name,
                   "message_id": message["MessageId"], "attempt": attempt}
            try:
                event = json.loads(message["Body"])
                log.update(rule=(event.get("resources") or ["?"])[0], scheduled_time=event.get("time"))
                route.handler(event, self._context(route.decl, route.settings))
            except Exception as exc:
                outcome.failed += 1
                outcome.error = f"{type(exc).__name__}: {exc}"
                if attempt < SCHEDULE_ATTEMPTS:
                    logger.exception("scheduled handler raised; EventBridge's event is retried after the "
                                     "queue's visibility timeout", extra=log)
                    continue
                logger.exception(f"scheduled handler raised on attempt {attempt} of {SCHEDULE_ATTEMPTS}; "
                                 "the event is dropped", extra=log)
            else:
                outcome.deleted += 1
                logger.info("scheduled handler called with EventBridge's event", extra=log)
            sqs.delete_message(QueueUrl=route.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return outcome

    def fire(self, route: ScheduleRoute, fire_time: datetime) -> bool:
        """Invoke a scheduled handler once; False when it raised (logged)."""
        rule = route.decl.schedule_name or f"deertrack-{self.decl.stage}-{route.decl.logical_id}"
        event = scheduled_event(rule, fire_time, self.region)
        log = {"function": route.decl.logical_id, "handler": route.decl.handler,
               "schedule": route.schedule.expression, "scheduled_time": event["time"]}
        try:
            route.handler(event, self._context(route.decl, route.settings))
        except Exception:
            logger.exception("scheduled handler raised", extra=log)
            return False
        logger.info("scheduled handler fired", extra=log)
        return True

    def fire_due(self, now: datetime | None = None) -> int:
        """Fire every schedule whose time has come (once, even when several times were missed)."""
        now = now or self.clock()
        fired = 0
        for route in self.schedule_routes:
            if route.next_at is None or route.next_at > now:
                continue
            due = route.next_at
            self.fire(route, due)
            fired += 1
            following = route.schedule.next_fire(due)
            while following is not None and following <= now:  # EventBridge does not catch up
                following = route.schedule.next_fire(following)
            route.next_at = following
        return fired

    # -------------------------------------------------------------------- driving

    def run_once(self, now: datetime | None = None) -> PumpReport:
        """Handle every message visible now (short polls) and fire the schedules due at `now`.

        A queue is left alone after a failed batch in the same call, so a message that keeps failing
        is received once per call, as it would be once per visibility timeout.
        """
        report = PumpReport()
        routes: list[tuple[str, Callable[[], BatchOutcome]]] = [
            *((r.queue_name, lambda r=r: self.deliver(r, wait_seconds=0)) for r in self.sqs_routes),
            *((r.queue_name, lambda r=r: self.deliver_scheduled(r, wait_seconds=0)) for r in self.eventbridge_routes),
        ]
        for queue_name, deliver in routes:
            while True:
                try:
                    outcome = deliver()
                except Exception as exc:  # emulator down, queue missing
                    report.errors.append(f"{queue_name}: {type(exc).__name__}: {exc}")
                    break
                report.received += outcome.received
                report.deleted += outcome.deleted
                report.failed += outcome.failed
                if outcome.error:
                    report.errors.append(f"{queue_name}: {outcome.error}")
                if outcome.received == 0 or outcome.failed:
                    break
        report.fired = self.fire_due(now)
        return report

    def start(self) -> EventPump:
        self._stop.clear()
        for route in self.sqs_routes:
            thread = threading.Thread(target=self._poll_loop, args=(route.queue_name, self.deliver, route),
                                      daemon=True, name=f"pump-{route.decl.logical_id}")
            self._threads.append(thread)
        for scheduled in self.eventbridge_routes:
            thread = threading.Thread(target=self._poll_loop,
                                      args=(scheduled.queue_name, self.deliver_scheduled, scheduled),
                                      daemon=True, name=f"pump-eventbridge-{scheduled.decl.logical_id}")
            self._threads.append(thread)
        if self.schedule_routes:
            self._threads.append(threading.Thread(target=self._schedule_loop, daemon=True, name="pump-schedules"))
        for thread in self._threads:
            thread.start()
        logger.info(
            "event pump started",
            extra={"queues": {r.decl.handler: r.queue_name for r in self.sqs_routes},
                   "schedules": {r.decl.handler: r.schedule.expression for r in self.schedule_routes},
                   "eventbridge_schedules": {r.decl.handler: r.queue_name for r in self.eventbridge_routes},
                   "skipped": self.skipped},
        )
        return self

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        deadline = time.monotonic() + (timeout if timeout is not None else self.wait_seconds + 10)
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            logger.warning("event pump threads still busy in a handler at stop", extra={"threads": alive})
        self._threads = []

    def _poll_loop(self, queue_name: str, deliver: Callable[[Any, int], BatchOutcome], route: Any) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                outcome = deliver(route, self.wait_seconds)
            except Exception as exc:
                if self._stop.is_set():
                    return
                logger.error("event pump cannot poll its queue; retrying",
                             extra={"queue": queue_name, "error": f"{type(exc).__name__}: {exc}",
                                    "retry_in_s": backoff})
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = 1.0
            if outcome.failed:
                self._stop.wait(1.0)  # a queue without visibility timeout must not spin on a failing message

    def _schedule_loop(self) -> None:
        while not self._stop.is_set():
            now = self.clock()
            self.fire_due(now)
            upcoming = [r.next_at for r in self.schedule_routes if r.next_at is not None]
            if not upcoming:
                return
            pause = (min(upcoming) - self.clock()).total_seconds()
            self._stop.wait(min(max(pause, 0.05), 1.0))
