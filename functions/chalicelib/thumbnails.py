"""A detection's pictures for the review page: GET /api/detections/{id}/crop and /photo, JPEG thumbnails
sized by `size`, cached by the browser (private, ETag; a matching If-None-Match is a 304 without reading S3).
Drawing: deertrack.reid.thumbnails."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

from chalice import Blueprint, Response

from chalicelib.access import requires
from chalicelib.http_problems import INVALID_REQUEST, answers_problems, problem_reply
from deertrack import db, inputs, openapi
from deertrack.auth import Role
from deertrack.problems import NotFound
from deertrack.reid import thumbnails
from deertrack.reid.crops import UnreadableImage
from deertrack.settings import get_settings
from deertrack.storage import ObjectMissing, get_bytes

F = TypeVar("F", bound=Callable[..., Any])

thumbnail_routes = Blueprint(__name__)

#: A day in the browser's own cache; after that a revalidation (304) costs one indexed row read.
CACHE_CONTROL = "private, max-age=86400"


def _picture(detection_id: str, kind: Literal["crop", "photo"], default_size: int) -> Response:
    number = inputs.path_id(detection_id, "detection_id")
    request = thumbnail_routes.current_request
    size = inputs.query(thumbnails.ThumbnailQuery, request.query_params).size or default_size
    with db.reused() as con:
        rows = con.run("SELECT i.s3_key, d.bbox_x, d.bbox_y, d.bbox_width, d.bbox_height FROM detections d"
                       " JOIN images i ON i.id = d.image_id WHERE d.id = :id", id=number)
    if not rows:
        raise NotFound(f"no detection {number}")
    key, *box = rows[0]
    bbox = (int(box[0]), int(box[1]), int(box[2]), int(box[3]))
    tag = thumbnails.etag(kind, key, bbox, size)
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": tag, "Vary": "Authorization"}
    if tag in (request.headers.get("if-none-match") or ""):
        return Response(body="", status_code=304, headers=headers)
    try:
        data = get_bytes(get_settings().images_bucket, key)  # S3 down: 503 from answers_problems
    except ObjectMissing:
        raise NotFound(f"detection {number}: its photo {key} is not in the images bucket") from None
    draw = thumbnails.crop_thumbnail if kind == "crop" else thumbnails.photo_thumbnail
    try:
        body = draw(data, bbox, size)
    except UnreadableImage:
        raise NotFound(f"detection {number}: its photo {key} is not a readable image") from None
    return Response(body=body, status_code=200, headers={**headers, "Content-Type": "image/jpeg"})


def _documented(summary: str, default: int) -> Callable[[F], F]:
    return openapi.operation(
        summary, tags=("review",), query=thumbnails.ThumbnailQuery,
        description=f"size defaults to {default}. Send If-None-Match with the ETag to get a 304.",
        responses={200: openapi.Reply("JPEG", {"type": "string", "format": "binary"},
                                      headers={"ETag": "Changes only when the picture does",
                                               "Cache-Control": CACHE_CONTROL}, media_type="image/jpeg"),
                   304: openapi.Reply("Not modified (If-None-Match matched)"), 400: INVALID_REQUEST,
                   404: problem_reply("No such detection, or its photo is missing or unreadable"),
                   503: problem_reply("PostgreSQL or S3 unreachable", retry=True)},
    )


@thumbnail_routes.route("/api/detections/{detection_id}/crop", methods=["GET"])
@_documented("A detection's crop as a thumbnail", 160)
@requires(Role.VIEWER)
@answers_problems
def get_crop(detection_id: str) -> Response:
    return _picture(detection_id, "crop", 160)


@thumbnail_routes.route("/api/detections/{detection_id}/photo", methods=["GET"])
@_documented("A detection's whole photo, box drawn", 1024)
@requires(Role.VIEWER)
@answers_problems
def get_photo(detection_id: str) -> Response:
    return _picture(detection_id, "photo", 1024)
