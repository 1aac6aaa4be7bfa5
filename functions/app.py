"""The deertrack Chalice app: HTTP routes and the SQS / S3 / schedule handlers, all thin.

Each area registers a blueprint from chalicelib/; the logic lives in the deertrack package.
"""

from __future__ import annotations

from typing import Any

from chalice import Chalice
from chalice.app import CloudWatchEvent, SQSEvent
from chalicelib import access
from chalicelib.backfill_routes import backfill_routes
from chalicelib.deer import deer_routes
from chalicelib.detections import detection_routes, process_image_events
from chalicelib.export_dead_letters import process_exports_dead_letters
from chalicelib.export_requests import process_export_requests
from chalicelib.exports import export_routes
from chalicelib.health import health_routes
from chalicelib.merges import merge_routes
from chalicelib.openapi import openapi_routes
from chalicelib.reid_routes import reid_routes
from chalicelib.review import review_routes
from chalicelib.review_page import review_page_routes
from chalicelib.thumbnails import thumbnail_routes

from deertrack import openapi
from deertrack.settings import get_settings

app = Chalice(app_name="deertrack")
app.api.cors = False
access.guard(app)  # every route's declared role (chalicelib/access.py), checked before its view
openapi.describe(app)  # GET /api/openapi.json: the document of these routes (deertrack/openapi.py)

app.register_blueprint(health_routes)
app.register_blueprint(export_routes)
app.register_blueprint(openapi_routes)
app.register_blueprint(detection_routes)
app.register_blueprint(merge_routes)
app.register_blueprint(deer_routes)
app.register_blueprint(reid_routes)
app.register_blueprint(backfill_routes)
app.register_blueprint(review_routes)
app.register_blueprint(thumbnail_routes)
app.register_blueprint(review_page_routes)


@app.on_sqs_message(queue=get_settings().export_requests_queue_name, batch_size=10)
def handle_export_request(event: SQSEvent) -> dict[str, Any]:
    """Export requests dropped under export-requests/ in the requests bucket (S3 notifications)."""
    return process_export_requests(event.to_dict(), event.context)


@app.on_sqs_message(queue=get_settings().exports_dead_letter_queue_name, batch_size=10)
def handle_exports_dead_letter(event: SQSEvent) -> dict[str, Any]:
    """Export messages the exports queue gave up on: their jobs become failed ("gave up after N attempts")."""
    return process_exports_dead_letters(event.to_dict(), event.context)


@app.on_sqs_message(queue=get_settings().image_events_queue_name, batch_size=1)
def handle_image_event(event: SQSEvent) -> dict[str, Any]:
    """MegaDetector results files put under detections/ in the images bucket (S3 notifications)."""
    return process_image_events(event.to_dict(), event.context)


@app.schedule(get_settings().backfill_schedule, name="backfill_nightly")
def backfill_nightly(event: CloudWatchEvent) -> dict[str, Any]:
    """The nightly backfill (template.yaml BackfillSchedule): plans a run and puts its shards on the reid queue."""
    from deertrack.backfill.triggers import start_scheduled_backfill

    return start_scheduled_backfill(event.to_dict())


@app.schedule("rate(5 minutes)", name="sweep_dead_letters")
def sweep_dead_letters(event: CloudWatchEvent) -> dict[str, Any]:
    """Marks what every dead-letter queue's messages were about (template.yaml DeadLetterSweepFunction);
    they stay there, alarmed, until `deertrack redrive QUEUE`."""
    from deertrack.dead_letters import sweep_all

    total, reports = sweep_all()
    return {**total.as_dict(), "queues": [r.as_dict() for r in reports]}
