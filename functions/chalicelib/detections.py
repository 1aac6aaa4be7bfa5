"""Detections: ingest (POST /api/detections), review (GET/PATCH /api/detections/{id}), and the
image-events SQS handler that imports MegaDetector results files put under detections/.
Logic: deertrack.ingest and deertrack.reid."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice import Blueprint, Response

from chalicelib.access import principal, requires
from chalicelib.http_problems import (
    ANY_CONTENT,
    INVALID_REQUEST,
    answers_problems,
    database,
    json_response,
    parse_body,
    positive_id,
    problem_reply,
)
from chalicelib.sqs_batches import process_records
from deertrack import openapi
from deertrack.auth import Role
from deertrack.ingest.s3_import import RESULTS_PREFIX, import_s3_object
from deertrack.ingest.schema import MAX_RECORDS, DetectionBatchIn, IngestReply, parse_record
from deertrack.ingest.store import store_records
from deertrack.logs import logger
from deertrack.problems import NotFound, Problem, RequestInvalid, load_json
from deertrack.reid import catalog
from deertrack.reid.review import DetectionPatch, apply_patch
from deertrack.s3_events import objects_of

detection_routes = Blueprint(__name__)

_PROBLEM_404 = problem_reply("No such detection")
_PROBLEM_503 = problem_reply("PostgreSQL, S3 or SQS unreachable", retry=True)


# ------------------------------------------------------------------------------------------ ingest


def ingest(raw_body: bytes | str | None) -> tuple[int, dict[str, Any]]:
    data = load_json(raw_body)
    if not isinstance(data, dict):
        raise RequestInvalid([Problem("body", "json_object", "the request body must be a JSON object")])
    extra = sorted(set(data) - {"images"})
    images = data.get("images")
    if extra:
        raise RequestInvalid([Problem(name, "unknown_field", f"{name} is not a known field; allowed fields: images")
                              for name in extra])
    if not isinstance(images, list) or not images:
        raise RequestInvalid([Problem("images", "required", "images must be a non-empty list of photo records")])
    if len(images) > MAX_RECORDS:
        raise RequestInvalid([Problem("images", "max_length", f"images has {len(images)} records; at most {MAX_RECORDS}"
                                      " per request")])
    records, problems = [], []
    for index, raw in enumerate(images):
        record, found = parse_record(raw, index)
        problems += found
        if record is not None:
            records.append(record)
    result = store_records(records, problems)  # a service down: 503 from answers_problems
    if not result.accepted_anything:
        raise RequestInvalid(result.problems or [Problem("images", "nothing_valid", "no record could be stored")])
    reply = IngestReply(
        batch_id=result.batch_id,
        images_accepted=result.images_accepted,
        detections=[{"record": d.path, "detection_id": d.detection_id, "duplicate": d.duplicate}
                    for d in result.detections],
        queued_detections=len(result.queued),
        reid_messages=result.message_ids,
        details=[p.as_dict() for p in result.problems],
    )
    return (207 if result.problems else 202), reply.model_dump()


@detection_routes.route("/api/detections", methods=["POST"], content_types=ANY_CONTENT)
@requires(Role.REVIEWER)
@answers_problems
def post_detections() -> Response:
    status, body = ingest(detection_routes.current_request.raw_body)
    return json_response(body, status)


# ------------------------------------------------------------------------------------------ review


@detection_routes.route("/api/detections/{detection_id}", methods=["GET"])
@requires(Role.VIEWER)
@answers_problems
def get_detection(detection_id: str) -> Response:
    number = positive_id(detection_id, "detection_id")
    with database() as con:
        view = catalog.detection_view(con, number)
    if view is None:
        raise NotFound(f"no detection {number}")
    return json_response(view, 200)


@detection_routes.route("/api/detections/{detection_id}", methods=["PATCH"], content_types=ANY_CONTENT)
@requires(Role.REVIEWER)
@answers_problems
def patch_detection(detection_id: str) -> Response:
    number = positive_id(detection_id, "detection_id")
    patch = parse_body(DetectionPatch, detection_routes.current_request.raw_body)
    with database() as con:
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


# ------------------------------------------------------------------------------------------ OpenAPI

openapi.document(
    "POST", "/api/detections", summary="Ingest a batch of photos and their detection boxes", tags=("detections",),
    description="Each record is one photo (an image_key in the images bucket, or image_base64 to upload), its "
                "capture time, location and boxes. Records and boxes are validated one by one: bad ones are "
                "listed in `details` (207) while the rest are stored; every stored detection that still needs it "
                "is re-identified, one reid message per batch. The same box of the same photo is never stored twice.",
    request=DetectionBatchIn,
    responses={202: openapi.Reply("All stored; re-ID queued", IngestReply),
               207: openapi.Reply("Some stored; the refused records and boxes are in `details`", IngestReply),
               400: INVALID_REQUEST, 503: _PROBLEM_503},
)
openapi.document(
    "GET", "/api/detections/{detection_id}", summary="A detection, its assignment and top-5 candidate deer",
    tags=("detections",),
    responses={200: openapi.Reply("The detection", {"type": "object"}), 400: INVALID_REQUEST, 404: _PROBLEM_404,
               503: _PROBLEM_503},
)
openapi.document(
    "PATCH", "/api/detections/{detection_id}",
    summary="Review a detection: confirm, reassign, new deer, class, validity, note",
    tags=("detections",),
    description="deer_id (confirm its deer or reassign; recorded as review truth), new_deer (a new deer gets it, as "
                "truth too), corrected_classification, is_valid and/or note. The deer it leaves and joins get their "
                "counts, first/last seen and profile embedding rebuilt. Every answer is recorded (detection_reviews) "
                "and `review.undo_url` (POST /api/reviews/{id}/undo) undoes it exactly.",
    request=DetectionPatch,
    responses={200: openapi.Reply("The detection after the change", {"type": "object"}), 400: INVALID_REQUEST,
               404: _PROBLEM_404, 503: _PROBLEM_503},
)
