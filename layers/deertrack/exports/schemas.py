"""Export request bodies (pydantic v2): shapes and field limits, plus each model's own rules.

Field-level checks (types, enums, limits, unknown fields) are pydantic's. Rules that relate fields
(date order, range length, dates in the future, fields required by a report type) are each model's
`rules()`: they run on whatever fields parsed, so one answer can list every violated rule
(deertrack.exports.body). Rules that need the database are in deertrack.exports.validation.

Dates are ISO calendar dates (YYYY-MM-DD) in UTC; both ends of a range are included.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictStr,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

from deertrack.classifications import Classification
from deertrack.inputs import Int4Id, Int8Id, JsonInt
from deertrack.problems import Problem

MAX_RANGE_DAYS = 365
MAX_DETECTION_IDS = 10_000
MAX_FILTER_IDS = 1_000

ExportType = Literal["pdf", "zip", "camtrap-dp"]
EXPORT_TYPES: tuple[str, ...] = ("pdf", "zip", "camtrap-dp")
ReportType = Literal["seasonal_activity", "comparison", "deer_profile"]
GroupBy = Literal["day", "week", "month"]

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def today_utc() -> date:
    """The latest date a request may name ("no date in the future"; today is allowed)."""
    return datetime.now(UTC).date()


def _iso_date(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise PydanticCustomError("date_format", "must be an ISO date, YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise PydanticCustomError("date_format", "must be a real calendar date, YYYY-MM-DD ({reason})",
                                  {"reason": str(exc)}) from None


IsoDate = Annotated[date, BeforeValidator(_iso_date), Field(description="ISO date YYYY-MM-DD (UTC), included")]
LocationId = Int4Id
DeerId = Int4Id
DetectionId = Int8Id
#: Not blank: the text is stripped before its length is checked (the pattern says so in the document).
_NOT_BLANK = {"pattern": r"^[^\x00]*[^\s\x00][^\x00]*$"}
Title = Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
                  Field(json_schema_extra=_NOT_BLANK)]
Label = Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
                  Field(json_schema_extra=_NOT_BLANK)]


def date_range_problems(values: dict[str, Any], path: str, today: date,
                        start: str = "start_date", end: str = "end_date") -> list[Problem]:
    """start before end, at most MAX_RANGE_DAYS apart, neither in the future (each a separate rule)."""
    problems = []
    first, last = values.get(start), values.get(end)
    for name, value in ((start, first), (end, last)):
        if value is not None and value > today:
            problems.append(Problem(f"{path}{name}", "not_future",
                                    f"{path}{name} must not be in the future (got {value}; today is {today}, UTC)"))
    if first is not None and last is not None:
        if first >= last:
            problems.append(Problem(f"{path}{start}", "date_order",
                                    f"{path}{start} must be before {path}{end} (got {first} and {last})"))
        elif (last - first).days > MAX_RANGE_DAYS:
            problems.append(Problem(f"{path}{end}", "max_range",
                                    f"the range {path}{start} to {path}{end} must be at most {MAX_RANGE_DAYS} days "
                                    f"(got {(last - first).days} days)"))
    return problems


class RequestBody(BaseModel):
    """Base of every request body: unknown fields are rejected, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def rules(cls, values: dict[str, Any], path: str, today: date) -> list[Problem]:
        """Rules across fields, on the fields that parsed (`values`); `path` prefixes field names."""
        return []


class ComparisonPeriod(RequestBody):
    label: Label = Field(description="Name of the period in the report, e.g. 'Rut 2024'")
    start_date: IsoDate
    end_date: IsoDate

    @classmethod
    def rules(cls, values: dict[str, Any], path: str, today: date) -> list[Problem]:
        return date_range_problems(values, path, today)


def _given(name: str) -> dict[str, Any]:
    """JSON Schema: `name` is there and not null."""
    return {"required": [name], "properties": {name: {"not": {"type": "null"}}}}


def _absent(name: str) -> dict[str, Any]:
    """JSON Schema: `name` is absent or null."""
    return {"not": _given(name)}


def _pdf_schema(schema: dict[str, Any]) -> None:
    """`rules()`' report-type requirements, in JSON Schema: comparison_periods for (and only for) comparison,
    deer_id for (and only for) deer_profile."""
    def report(kind: str) -> dict[str, Any]:
        return {"properties": {"report_type": {"const": kind}}}

    schema["oneOf"] = [
        {"allOf": [report("seasonal_activity"), _absent("comparison_periods"), _absent("deer_id")]},
        {"allOf": [report("comparison"), _given("comparison_periods"), _absent("deer_id")]},
        {"allOf": [report("deer_profile"), _given("deer_id"), _absent("comparison_periods")]},
    ]


def _selection_schema(schema: dict[str, Any]) -> None:
    """`rules()`' "detection_ids or filters, never both" (and ZIP's "something to export"), in JSON Schema."""
    schema["oneOf"] = [{"allOf": [_given("detection_ids"), _absent("filters")]},
                       {"allOf": [_given("filters"), _absent("detection_ids")]}]
    if "include_metadata_csv" in schema["properties"]:
        schema["not"] = {"required": ["include_crops", "include_metadata_csv"],
                         "properties": {"include_crops": {"const": False}, "include_metadata_csv": {"const": False}}}


class PdfExportRequest(RequestBody):
    """POST /api/exports/pdf: a PDF report rendered from the detections in a date range."""

    model_config = ConfigDict(json_schema_extra=_pdf_schema)
    export_type: ClassVar[str] = "pdf"

    report_type: ReportType
    start_date: IsoDate
    end_date: IsoDate
    group_by: GroupBy = "month"
    include_charts: StrictBool = True
    include_tables: StrictBool = True
    include_insights: StrictBool = True
    title: Title | None = Field(None, description="Title printed on every page (1-200 characters)")
    location_ids: list[LocationId] | None = Field(
        None, min_length=1, max_length=MAX_FILTER_IDS, description="Only these cameras (locations.id); all if absent")
    classifications: list[Classification] | None = Field(
        None, min_length=1, max_length=4, description="Only these classifications; all if absent")
    comparison_periods: list[ComparisonPeriod] | None = Field(
        None, min_length=2, max_length=5, description="2-5 periods; required for, and only for, report_type comparison")
    deer_id: DeerId | None = Field(None, description="The individual; required for, and only for, deer_profile")

    @classmethod
    def rules(cls, values: dict[str, Any], path: str, today: date) -> list[Problem]:
        problems = date_range_problems(values, path, today)
        report_type = values.get("report_type")
        if report_type is not None:
            problems += _required_for(values, path, "comparison_periods", "comparison", report_type)
            problems += _required_for(values, path, "deer_id", "deer_profile", report_type)
        periods = values.get("comparison_periods") or []
        labels = [p.label for p in periods if isinstance(p, ComparisonPeriod)]
        duplicates = sorted({label for label in labels if labels.count(label) > 1})
        if duplicates:
            problems.append(Problem(f"{path}comparison_periods", "unique_labels",
                                    f"{path}comparison_periods labels must be unique (repeated: "
                                    f"{', '.join(duplicates)})"))
        return problems


def _required_for(values: dict[str, Any], path: str, field: str, wanted: str, report_type: str) -> list[Problem]:
    present = values.get(field) is not None
    if report_type == wanted and not present and field in values:
        return [Problem(f"{path}{field}", "required_for_report_type",
                        f"{path}{field} is required when report_type is {wanted}")]
    if report_type != wanted and present:
        return [Problem(f"{path}{field}", "only_for_report_type",
                        f"{path}{field} applies only to report_type {wanted} (got report_type {report_type})")]
    return []


class DetectionFilters(RequestBody):
    """Which detections: valid ones captured in the range, narrowed by each filter given."""

    start_date: IsoDate
    end_date: IsoDate
    location_ids: list[LocationId] | None = Field(None, min_length=1, max_length=MAX_FILTER_IDS)
    deer_ids: list[DeerId] | None = Field(None, min_length=1, max_length=MAX_FILTER_IDS)
    classifications: list[Classification] | None = Field(None, min_length=1, max_length=4)
    min_confidence: StrictFloat | None = Field(None, ge=0.0, le=1.0)

    @classmethod
    def rules(cls, values: dict[str, Any], path: str, today: date) -> list[Problem]:
        return date_range_problems(values, path, today)


class DetectionSelection(RequestBody):
    """Either `detection_ids` or `filters`, never both."""

    model_config = ConfigDict(json_schema_extra=_selection_schema)

    detection_ids: list[DetectionId] | None = Field(
        None, min_length=1, max_length=MAX_DETECTION_IDS, description="Exactly these detections (1-10,000)")
    filters: DetectionFilters | None = Field(None, description="Or: every detection matching these filters")

    @classmethod
    def rules(cls, values: dict[str, Any], path: str, today: date) -> list[Problem]:
        given = [name for name in ("detection_ids", "filters") if values.get(name) is not None]
        unparsed = [name for name in ("detection_ids", "filters") if name not in values]
        if len(given) == 2:
            return [Problem(f"{path}detection_ids", "one_of",
                            "give either detection_ids or filters, not both")]
        if not given and not unparsed:
            return [Problem(f"{path}detection_ids", "one_of",
                            "one of detection_ids or filters is required")]
        return []


class ZipExportRequest(DetectionSelection):
    """POST /api/exports/zip: crops and metadata of the selected detections in one ZIP."""

    export_type: ClassVar[str] = "zip"

    include_crops: StrictBool = True
    include_metadata_csv: StrictBool = True
    crop_size: JsonInt = Field(300, ge=128, le=1024, description="Longest side of each crop, pixels")

    @classmethod
    def rules(cls, values: dict[str, Any], path: str, today: date) -> list[Problem]:
        problems = super().rules(values, path, today)
        if values.get("include_crops") is False and values.get("include_metadata_csv") is False:
            problems.append(Problem(f"{path}include_crops", "nothing_to_export",
                                    "include_crops and include_metadata_csv cannot both be false"))
        return problems


class CamtrapDpExportRequest(DetectionSelection):
    """POST /api/exports/camtrap-dp: a Camtrap DP 1.0.2 package of the selected detections."""

    export_type: ClassVar[str] = "camtrap-dp"

    include_media: StrictBool = Field(False, description="Put the images themselves in the package")


REQUEST_MODELS: dict[str, type[RequestBody]] = {
    "pdf": PdfExportRequest,
    "zip": ZipExportRequest,
    "camtrap-dp": CamtrapDpExportRequest,
}
