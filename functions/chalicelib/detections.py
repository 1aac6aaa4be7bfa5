"""Detections: ingest (POST /api/detections, and its batch: GET /api/ingest/{batch_id}), review
(GET/PATCH /api/detections/{id}), and the image-events SQS handler that imports MegaDetector results files put
under detections/.
Logic: deertrack.ingest and deertrack.reid."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice import Blueprint, Response

from chalicelib import job_status as job_answers
from chalicelib.access import principal, requires
from chalicelib.http_problems import ANY_CONTENT, INVALID_REQUEST, answers_problems, json_response, problem_reply
from chalicelib.sqs_batches import process_records
from deertrack import db, inputs, openapi
from deertrack.auth import Role
from deertrack.exports.responses import POLL_AFTER_SECONDS
from deertrack.ingest import batches, intake
from deertrack.ingest.s3_import import RESULTS_PREFIX, import_s3_object
from deertrack.ingest.schema import INGEST_BEYOND_SCHEMA, DetectionBatchIn, IngestReply
from deertrack.logs import logger
from deertrack.problems import NotFound
from deertrack.reid import catalog
from deertrack.reid.review import PATCH_BEYOND_SCHEMA, DetectionPatch, apply_patch
from deertrack.s3_events import objects_of

detection_routes = Blueprint(__name__)

_PROBLEM_404 = problem_reply("No such detection")
_PROBLEM_503 = problem_reply("PostgreSQL, S3 or SQS unreachable", retry=True)
_BATCH_HEADERS = {"Location": "The batch's status URL (GET /api/ingest/{batch_id})",
                  "Retry-After": "Seconds between polls"}

# ------------------------------------------------------------------------------------------ ingest


@detection_routes.route("/api/detections", methods=["POST"], content_types=ANY_CONTENT)
@openapi.operation(
    "Ingest a batch of photos and their detection boxes", tags=("detections",),
    description="Each record is one photo (an image_key in the images bucket, or image_base64 to upload), its "
                "capture time, location and boxes. Records and boxes are validated one by one: bad ones are "
                "listed in `details` (207) while the rest are stored; every stored detection that still needs it "
                "is re-identified, one reid message per batch. The same box of the same photo is never stored twice.",
    request=DetectionBatchIn, beyond_schema=INGEST_BEYOND_SCHEMA,
    responses={202: openapi.Reply("All stored; re-ID queued", IngestReply, headers=_BATCH_HEADERS),
               207: openapi.Reply("Some stored; the refused records and boxes are in `details`", IngestReply,
                                  headers=_BATCH_HEADERS),
               400: INVALID_REQUEST, 503: _PROBLEM_503},
)
@requires(Role.REVIEWER)
@answers_problems
def post_detections() -> Response:
    ingested = intake.accept(detection_routes.current_request.raw_body)
    return job_answers.accepted(ingested.reply, ingested.reply.status_url, ingested.status)


@detection_routes.route("/api/ingest/{batch_id}", methods=["GET"])
@openapi.operation(
    "How far an ingest batch's re-identification has got", tags=("detections",),
    description="The batch's detections (as POST /api/detections answered them, duplicates included) counted by "
                "re-ID status, and each with its status and deer; `done` once none is `pending`.",
    responses={200: openapi.Reply("The batch", {"type": "object"}), 404: problem_reply("No such ingest batch"),
               503: problem_reply("PostgreSQL unreachable", retry=True)},
)
@requires(Role.VIEWER)
@answers_problems
def get_ingest_batch(batch_id: str) -> Response:
    with db.reused() as con:
        view = batches.batch_view(con, batch_id)
    if view is None:
        raise NotFound(f"no ingest batch {batch_id!r}")
    return json_response(view, 200, None if view["done"] else {"Retry-After": str(POLL_AFTER_SECONDS)})


# ------------------------------------------------------------------------------------------ review


@detection_routes.route("/api/detections/{detection_id}", methods=["GET"])
@openapi.operation(
    "A detection, its assignment and top-5 candidate deer", tags=("detections",),
    responses={200: openapi.Reply("The detection", {"type": "object"}), 400: INVALID_REQUEST, 404: _PROBLEM_404,
               503: _PROBLEM_503},
)
@requires(Role.VIEWER)
@answers_problems
def get_detection(detection_id: str) -> Response:
    number = inputs.path_id(detection_id, "detection_id")
    with db.reused() as con:
        view = catalog.detection_view(con, number)
    if view is None:
        raise NotFound(f"no detection {number}")
    return json_response(view, 200)


@detection_routes.route("/api/detections/{detection_id}", methods=["PATCH"], content_types=ANY_CONTENT)
@openapi.operation(
    "Review a detection: confirm, reassign, new deer, class, validity, note", tags=("detections",),
    description="deer_id (confirm its deer or reassign; recorded as review truth), new_deer (a new deer gets it, as "
                "truth too), corrected_classification, is_valid and/or note. The deer it leaves and joins get their "
                "counts, first/last seen and profile embedding rebuilt. Every answer is recorded (detection_reviews) "
                "and `review.undo_url` (POST /api/reviews/{id}/undo) undoes it exactly.",
    request=DetectionPatch, beyond_schema=PATCH_BEYOND_SCHEMA,
    responses={200: openapi.Reply("The detection after the change", {"type": "object"}), 400: INVALID_REQUEST,
               404: _PROBLEM_404, 503: _PROBLEM_503},
)
@requires(Role.REVIEWER)
@answers_problems
def patch_detection(detection_id: str) -> Response:
    number = inputs.path_id(detection_id, "detection_id")
    patch = inputs.body(DetectionPatch, detection_routes.current_request.raw_body)
    with db.reused() as con:
        changed = apply_patch(con, number, patch, actor=principal().user)
        view = catalog.detection_view(con, number)
    return json_response({**(view or {}), "review": changed}, 200)


# ------------------------------------------------------------------------------------------ S3 imports


def _import_record(record: SQSRecord) -> None:
    for obj in objects_of(record):
        if not obj.key.startswith(RESULTS_PREFIX):
            logger.info("image event outside detections/ ignored", extra={"bucket": obj.bucket, "key": obj.key})
            continue
        import_s3_object(obj.bucket, obj.key)


def process_image_events(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """MegaDetector results files put under detections/: import each; failed records are retried."""
    return process_records(event, context, _import_record, left_for_later="image events to retry")
