"""The detections batch (POST /api/detections), validated record by record.

A batch is `{"images": [record, …]}`; each record is one photo:

    {"image_key": "CAM-01/2024/IMG_0001.JPG"        # an object in the images bucket, or
     "image_base64": "...", "filename": "IMG_0001.JPG",  # the photo itself (stored under uploads/)
     "captured_at": "2024-06-01T05:12:09Z",          # ISO 8601 with a timezone
     "location_code": "CAM-01" | "location_id": 3,
     "boxes": [{"x": 120, "y": 80, "width": 300, "height": 200,   # pixels, inside the image
                "confidence": 0.93, "classification": "doe"}]}   # buck | doe | fawn | unknown

A bad record never sinks the batch: each record (and each box) is validated on its own, and every
problem is reported with its path (`images[3].boxes[0].width`) and rule.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Final

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictFloat,
    StrictStr,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from deertrack.classifications import Classification
from deertrack.inputs import INT4_MAX, Int4Id, JsonInt
from deertrack.problems import Problem, problems_from

MAX_RECORDS = 500
MAX_BOXES_PER_IMAGE = 100
MAX_UPLOAD_BYTES = 8 * 1024 * 1024


#: What POST /api/detections checks that its schema cannot say (each a refused record or box in `details`).
INGEST_BEYOND_SCHEMA: Final = {
    "known_location": "location_code / location_id names a camera that exists",
    "exists": "image_key names an object in the images bucket",
    "image": "the photo (stored or uploaded) is a readable image",
    "max_size": f"an uploaded photo is at most {MAX_UPLOAD_BYTES} bytes",
    "within_image": "a box lies inside its photo",
    "matches_stored_image": "a photo already stored keeps its location and capture time",
    "nothing_valid": "at least one record could be stored",
}
#: Standard base64 with its padding (what `base64.b64decode(validate=True)` takes).
BASE64_PATTERN: Final = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)$"


def _text_time(value: Any) -> Any:
    if not isinstance(value, str):  # JSON has no datetimes: a number is not a capture time
        raise PydanticCustomError("datetime_type", "must be an ISO 8601 date-time string with a timezone")
    return value


class BoxIn(BaseModel):
    """One bounding box in pixels of the image, top-left origin."""

    model_config = ConfigDict(extra="forbid")
    x: JsonInt = Field(ge=0, le=INT4_MAX, description="left edge, pixels")
    y: JsonInt = Field(ge=0, le=INT4_MAX, description="top edge, pixels")
    width: JsonInt = Field(gt=0, le=INT4_MAX, description="pixels")
    height: JsonInt = Field(gt=0, le=INT4_MAX, description="pixels")
    confidence: StrictFloat = Field(ge=0.0, le=1.0, description="detector confidence")
    classification: Classification = "unknown"


def _image_schema(schema: dict[str, Any]) -> None:
    """The validator's "exactly one of" rules, in JSON Schema; image_base64's alphabet."""
    def one_of(*names: str) -> dict[str, Any]:
        return {"oneOf": [{"required": [n], "properties": {n: {"not": {"type": "null"}}}} for n in names]}

    schema["allOf"] = [one_of("image_key", "image_base64"), one_of("location_code", "location_id")]
    encoded = schema["properties"]["image_base64"]["anyOf"][0]
    encoded["pattern"] = BASE64_PATTERN


class ImageIn(BaseModel):
    """One photo and its boxes. Boxes are validated one by one (see parse_record)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_image_schema)
    image_key: StrictStr | None = Field(None, min_length=1, max_length=1024, description="key in the images bucket")
    image_base64: StrictStr | None = Field(None, min_length=4, description="the photo itself, base64 (max 8 MiB)")
    filename: StrictStr | None = Field(None, min_length=1, max_length=200, pattern=r"^[^/\\\x00]+$",
                                       description="name for an uploaded photo")
    captured_at: Annotated[AwareDatetime, BeforeValidator(_text_time)]
    location_code: StrictStr | None = Field(None, min_length=1, max_length=64)
    location_id: Int4Id | None = None
    boxes: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_BOXES_PER_IMAGE)

    @model_validator(mode="after")
    def _one_of_each(self) -> ImageIn:
        if (self.image_key is None) == (self.image_base64 is None):
            raise ValueError("give exactly one of image_key and image_base64")
        if (self.location_code is None) == (self.location_id is None):
            raise ValueError("give exactly one of location_code and location_id")
        return self


class ImageDoc(ImageIn):
    """One photo and its boxes (as documented; validation takes boxes one by one)."""

    boxes: list[BoxIn] = Field(default_factory=list, max_length=MAX_BOXES_PER_IMAGE)  # type: ignore[assignment]


class DetectionBatchIn(BaseModel):
    """POST /api/detections body. Records are validated one by one; bad ones are reported, not fatal."""

    model_config = ConfigDict(extra="forbid")

    images: list[ImageDoc] = Field(min_length=1, max_length=MAX_RECORDS)


class DetectionRef(BaseModel):
    record: str = Field(description="where the box was in the request, e.g. images[0].boxes[1]")
    detection_id: int
    duplicate: bool = Field(description="the same box of the same image was already stored")


class IngestReply(BaseModel):
    """202 (everything accepted) or 207 (some records refused: `details`)."""

    batch_id: str
    status_url: str = Field(description="GET it for the batch's re-ID progress (also the Location header)")
    images_accepted: int
    detections: list[DetectionRef]
    queued_detections: int
    reid_messages: list[str]
    details: list[dict[str, str]] = Field(default_factory=list, description="one entry per refused record/box")


@dataclass
class Box:
    path: str  # e.g. images[0].boxes[1]
    bbox: tuple[int, int, int, int]
    confidence: float
    classification: str


@dataclass
class ImageRecord:
    """One validated photo, ready to be stored."""

    path: str  # e.g. images[0]
    captured_at: datetime
    image_key: str | None = None
    upload: bytes | None = None
    filename: str | None = None
    location_code: str | None = None
    location_id: int | None = None
    boxes: list[Box] = field(default_factory=list)
    size: tuple[int, int] | None = None  # (width, height) when already known
    key_field: str = "image_key"  # the field a missing image is reported on


def problems_of(exc: ValidationError, prefix: str, model: type[BaseModel] | None = None) -> list[Problem]:
    """The problems of `exc` under `prefix` (``images[3]``, or "" for the body): problems.problems_from."""
    path: list[str | int] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", prefix):
        path.append(int(index) if index else name)
    return problems_from(exc, tuple(path), model)


def parse_record(raw: Any, index: int) -> tuple[ImageRecord | None, list[Problem]]:
    """Validate images[index]: the record (None when it is refused) and every problem found."""
    path = f"images[{index}]"
    try:
        image = ImageIn.model_validate(raw)
    except ValidationError as exc:
        return None, problems_of(exc, path, ImageIn)
    problems: list[Problem] = []
    upload = None
    if image.image_base64 is not None:
        try:
            upload = base64.b64decode(image.image_base64, validate=True)
        except (binascii.Error, ValueError):
            return None, [Problem(f"{path}.image_base64", "base64", f"{path}.image_base64 is not valid base64")]
        if len(upload) > MAX_UPLOAD_BYTES:
            return None, [Problem(f"{path}.image_base64", "max_size",
                                  f"{path}.image_base64 is {len(upload)} bytes; at most {MAX_UPLOAD_BYTES}")]
    record = ImageRecord(path=path, captured_at=image.captured_at, image_key=image.image_key, upload=upload,
                         filename=image.filename, location_code=image.location_code, location_id=image.location_id,
                         key_field="image_key" if image.image_key else "image_base64")
    for j, raw_box in enumerate(image.boxes):
        box_path = f"{path}.boxes[{j}]"
        try:
            box = BoxIn.model_validate(raw_box)
        except ValidationError as exc:
            problems += problems_of(exc, box_path, BoxIn)
            continue
        record.boxes.append(Box(box_path, (box.x, box.y, box.width, box.height), box.confidence, box.classification))
    return record, problems
