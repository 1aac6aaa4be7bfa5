"""Rules that need PostgreSQL: ids that must exist, and a selection that must match something.

`validate_request` is the whole of validation for one export request, HTTP or S3 alike: the
body's shape and rules (deertrack.exports.body), then these. Unknown ids are looked up even when
other rules already failed, so one answer lists them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pg8000.native

from deertrack import db
from deertrack.exports import body
from deertrack.exports.schemas import (
    REQUEST_MODELS,
    DetectionFilters,
    DetectionSelection,
    RequestBody,
    today_utc,
)
from deertrack.exports.selection import Selection, count_detections
from deertrack.logs import logger
from deertrack.outages import POSTGRES
from deertrack.problems import Problem, RequestInvalid, ServiceUnavailable

#: How many unknown ids a message names before it says "and N more".
SHOWN_IDS = 20

#: (table, id type) of each kind of reference.
_TABLES = {"location": ("locations", "INTEGER"), "deer": ("deer", "INTEGER"), "detection": ("detections", "BIGINT")}


@dataclass(frozen=True)
class ValidRequest:
    export_type: str
    model: RequestBody
    total_detections: int | None = None

    def request(self) -> dict[str, Any]:
        """The request as the job and the message carry it (JSON, defaults filled in)."""
        return self.model.model_dump(mode="json")


def validate_request(export_type: str, data: Any, *, today: date | None = None) -> ValidRequest:
    """Validate parsed JSON `data` as an `export_type` request; raise RequestInvalid with every problem.

    Raises ServiceUnavailable when PostgreSQL is needed and cannot be reached.
    """
    model_cls = REQUEST_MODELS[export_type]
    if not isinstance(data, dict):
        body.parse(model_cls, data)  # raises the json_object problem
    parsed, problems = body.check(model_cls, data, today=today or today_utc())
    refs = _references(export_type, parsed, data)
    total: int | None = None
    if refs or (parsed is not None and not problems and isinstance(parsed, DetectionSelection)):
        try:
            with db.reused() as con:
                problems += [p for field, kind, ids in refs if (p := _unknown(con, field, kind, ids))]
                if not problems and isinstance(parsed, DetectionSelection):
                    total = count_detections(con, Selection.from_request(parsed))
                    if total == 0:
                        problems.append(_no_matches(parsed))
        except db.DatabaseUnavailable as exc:
            if problems:  # answer what can be fixed now; the ids are checked on the next try
                logger.warning("PostgreSQL unreachable; ids not checked", extra={"error": str(exc)})
                raise RequestInvalid(problems) from None
            raise ServiceUnavailable(POSTGRES, exc) from exc
    if problems:
        raise RequestInvalid(problems)
    assert parsed is not None
    logger.debug("export request valid", extra={"export_type": export_type, "total_detections": total})
    return ValidRequest(export_type, parsed, total)


def _references(export_type: str, parsed: RequestBody | None, data: dict[str, Any]) -> list[tuple[str, str, list[int]]]:
    """(field, kind, ids) to look up; from the parsed model, or the fields that parsed when it did not."""
    values = parsed.model_dump() if parsed is not None else _parsable(export_type, data)
    refs: list[tuple[str, str, list[int]]] = []
    if export_type == "pdf":
        if values.get("location_ids"):
            refs.append(("location_ids", "location", list(values["location_ids"])))
        if values.get("deer_id") is not None:
            refs.append(("deer_id", "deer", [values["deer_id"]]))
        return refs
    if values.get("detection_ids"):
        refs.append(("detection_ids", "detection", list(values["detection_ids"])))
    filters = values.get("filters") or {}
    if filters.get("location_ids"):
        refs.append(("filters.location_ids", "location", list(filters["location_ids"])))
    if filters.get("deer_ids"):
        refs.append(("filters.deer_ids", "deer", list(filters["deer_ids"])))
    return refs


def _parsable(export_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """The id fields of an invalid body that are well-formed on their own."""
    model_cls = REQUEST_MODELS[export_type]
    found: dict[str, Any] = {}
    for name in ("location_ids", "deer_id", "detection_ids"):
        if name in model_cls.model_fields and name in data:
            found.update(_try_field(model_cls, name, data[name]))
    if "filters" in model_cls.model_fields and isinstance(data.get("filters"), dict):
        filters: dict[str, Any] = {}
        for name in ("location_ids", "deer_ids"):
            if name in data["filters"]:
                filters.update(_try_field(DetectionFilters, name, data["filters"][name]))
        found["filters"] = filters
    return found


def _try_field(model_cls: type[RequestBody], name: str, value: Any) -> dict[str, Any]:
    parsed = body.partial_values(model_cls, {name: value}, set())
    return {name: parsed[name]} if name in parsed else {}


def _unknown(con: pg8000.native.Connection, field: str, kind: str, ids: list[int]) -> Problem | None:
    table, sql_type = _TABLES[kind]
    wanted = sorted(set(ids))
    rows = con.run(f"SELECT x FROM unnest(CAST(:ids AS {sql_type}[])) AS x "
                   f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE t.id = x) ORDER BY x", ids=wanted)
    missing = [int(r[0]) for r in rows]
    if not missing:
        return None
    shown = ", ".join(str(i) for i in missing[:SHOWN_IDS])
    more = f" and {len(missing) - SHOWN_IDS} more" if len(missing) > SHOWN_IDS else ""
    ids_word = "id" if len(missing) == 1 else "ids"
    return Problem(field, "unknown_id", f"{field} names unknown {kind} {ids_word}: {shown}{more}")


def _no_matches(parsed: DetectionSelection) -> Problem:
    if parsed.detection_ids is not None:
        return Problem("detection_ids", "no_matches", "detection_ids match no detections")
    return Problem("filters", "no_matches",
                   "no detections match filters; nothing would be exported (widen the date range or the filters)")
