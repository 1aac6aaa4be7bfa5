"""A detection's pictures for the review page: GET /api/detections/{id}/crop and /photo, JPEG thumbnails
sized by `size`, cached by the browser (private, ETag; a matching If-None-Match is a 304 without reading S3).
Drawing: deertrack.reid.thumbnails."""

from __future__ import annotations

from typing import Literal

from botocore.exceptions import BotoCoreError, ClientError
from chalice import Blueprint, Response
from pydantic import BaseModel, ConfigDict, field_validator

from chalicelib.access import requires
from chalicelib.http_problems import (
    INVALID_REQUEST,
    answers_problems,
    database,
    parse_query,
    positive_id,
    problem_reply,
)
from deertrack import openapi
from deertrack.auth import Role
from deertrack.problems import NotFound, ServiceUnavailable
from deertrack.reid import thumbnails
from deertrack.reid.crops import UnreadableImage
from deertrack.settings import get_settings
from deertrack.storage import ObjectMissing, get_bytes

thumbnail_routes = Blueprint(__name__)

#: A day in the browser's own cache; after that a revalidation (304) costs one indexed row read.
CACHE_CONTROL = "private, max-age=86400"


class ThumbnailQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: int = 160

    @field_validator("size")
    @classmethod
    def _known_size(cls, value: int) -> int:
        if value not in thumbnails.SIZES:
            raise ValueError(f"size must be one of {', '.join(map(str, thumbnails.SIZES))}")
        return value


def _picture(detection_id: str, kind: Literal["crop", "photo"], default_size: int) -> Response:
    number = positive_id(detection_id, "detection_id")
    request = thumbnail_routes.current_request
    query = dict(request.query_params or {})
    query.setdefault("size", str(default_size))
    size = parse_query(ThumbnailQuery, query).size
    with database() as con:
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
        data = get_bytes(get_settings().images_bucket, key)
    except ObjectMissing:
        raise NotFound(f"detection {number}: its photo {key} is not in the images bucket") from None
    except (BotoCoreError, ClientError) as exc:
        raise ServiceUnavailable("S3", exc) from exc
    draw = thumbnails.crop_thumbnail if kind == "crop" else thumbnails.photo_thumbnail
    try:
        body = draw(data, bbox, size)
    except UnreadableImage:
        raise NotFound(f"detection {number}: its photo {key} is not a readable image") from None
    return Response(body=body, status_code=200, headers={**headers, "Content-Type": "image/jpeg"})


@thumbnail_routes.route("/api/detections/{detection_id}/crop", methods=["GET"])
@requires(Role.VIEWER)
@answers_problems
def get_crop(detection_id: str) -> Response:
    return _picture(detection_id, "crop", 160)


@thumbnail_routes.route("/api/detections/{detection_id}/photo", methods=["GET"])
@requires(Role.VIEWER)
@answers_problems
def get_photo(detection_id: str) -> Response:
    return _picture(detection_id, "photo", 1024)


# ------------------------------------------------------------------------------------------ OpenAPI

_SIZE = (openapi.Header("size", f"longest side in pixels, one of {', '.join(map(str, thumbnails.SIZES))}"),)
_JPEG = openapi.Reply("JPEG", {"type": "string", "format": "binary"},
                      headers={"ETag": "Changes only when the picture does", "Cache-Control": CACHE_CONTROL},
                      media_type="image/jpeg")
for _path, _summary, _default in (("/api/detections/{detection_id}/crop", "A detection's crop as a thumbnail", 160),
                                  ("/api/detections/{detection_id}/photo", "A detection's whole photo, box drawn",
                                   1024)):
    openapi.document(
        "GET", _path, summary=_summary, tags=("review",), query=_SIZE,
        description=f"size defaults to {_default}. Send If-None-Match with the ETag to get a 304.",
        responses={200: _JPEG, 304: openapi.Reply("Not modified (If-None-Match matched)"), 400: INVALID_REQUEST,
                   404: problem_reply("No such detection, or its photo is missing or unreadable"),
                   503: problem_reply("PostgreSQL or S3 unreachable", retry=True)},
    )
