"""A person's corrections to re-identification (PATCH /api/detections/{id}).

* `corrected_classification`: the sex/age class a person sees (null clears it).
* `deer_id`: the detection belongs to that deer; recorded as truth (detection_truth, source 'review').
  The deer's sex must suit the detection's class (the worker's rule: `unknown` suits anything),
  after the same request's `corrected_classification`.
* `is_valid`: false removes the detection from its deer's counts and profile (true puts it back).

The reviewer (`actor`, the token's user) is recorded on the detection (`reviewed_by`, `reviewed_at`), on
the truth it makes (`detection_truth.recorded_by`) and in the note.

Every deer the change touches is rebuilt from its remaining valid detections (count, first/last
seen, profile embedding), under the gallery lock, in one transaction.
"""

from __future__ import annotations

from typing import Any

import pg8000.native
from pydantic import BaseModel, ConfigDict, Field, model_validator

from deertrack.classifications import Classification
from deertrack.db import transaction
from deertrack.logs import logger
from deertrack.problems import NotFound, Problem, RequestInvalid
from deertrack.reid.assignment import lock_gallery
from deertrack.reid.profiles import rebuild_deer
from deertrack.reid.scoring import sex_match


class DetectionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    corrected_classification: Classification | None = None
    deer_id: int | None = Field(None, ge=1)
    is_valid: bool | None = None
    note: str | None = Field(None, max_length=500, description="why (kept in reid_note)")

    @model_validator(mode="after")
    def _something(self) -> DetectionPatch:
        if not self.model_fields_set - {"note"}:
            raise ValueError("give at least one of corrected_classification, deer_id, is_valid")
        if "deer_id" in self.model_fields_set and self.deer_id is None:
            raise ValueError("deer_id must be a deer id (re-assign), not null")
        if "is_valid" in self.model_fields_set and self.is_valid is None:
            raise ValueError("is_valid must be true or false")
        return self


def review_individual_key(deer_id: int) -> str:
    return f"deer-{deer_id}"


def apply_patch(con: pg8000.native.Connection, detection_id: int, patch: DetectionPatch, *,
                actor: str) -> dict[str, Any]:
    """Apply `actor`'s correction; returns what changed. Raises NotFound / RequestInvalid."""
    fields = patch.model_fields_set
    with transaction(con):
        lock_gallery(con)
        rows = con.run("SELECT deer_id, coalesce(corrected_classification, classification) FROM detections"
                       " WHERE id = :id FOR UPDATE", id=detection_id)
        if not rows:
            raise NotFound(f"no detection {detection_id}")
        old_deer, classification = rows[0]
        if "corrected_classification" in fields:
            classification = patch.corrected_classification or con.run(
                "SELECT classification FROM detections WHERE id = :id", id=detection_id)[0][0]
        touched: set[int] = set()
        notes = []
        if "deer_id" in fields and patch.deer_id is not None:
            deer = con.run("SELECT name, sex FROM deer WHERE id = :id", id=patch.deer_id)
            if not deer:
                raise RequestInvalid([Problem("deer_id", "known_deer", f"deer_id: no deer {patch.deer_id}")])
            name, sex = deer[0]
            if not sex_match(classification, sex):
                raise RequestInvalid([Problem(
                    "deer_id", "sex_match",
                    f"deer_id: deer {patch.deer_id} ({name}) is a {sex} and detection {detection_id} is a"
                    f" {classification}; pick a {classification} deer, or correct the classification in the"
                    " same request (corrected_classification)")])
            if patch.deer_id != old_deer:
                con.run("UPDATE detections SET deer_id = :deer, reid_status = 'assigned', updated_at = now()"
                        " WHERE id = :id", deer=patch.deer_id, id=detection_id)
                notes.append(f"reassigned by review from deer {old_deer} to deer {patch.deer_id}")
                touched |= {d for d in (old_deer, patch.deer_id) if d is not None}
            con.run(
                "INSERT INTO detection_truth (detection_id, individual_key, source, recorded_by)"
                " VALUES (:id, :key, 'review', :by)"
                " ON CONFLICT (detection_id) DO UPDATE SET individual_key = EXCLUDED.individual_key,"
                " source = 'review', recorded_at = now(), recorded_by = EXCLUDED.recorded_by",
                id=detection_id, key=review_individual_key(patch.deer_id), by=actor,
            )
        if "corrected_classification" in fields:
            con.run("UPDATE detections SET corrected_classification = :c, updated_at = now() WHERE id = :id",
                    c=patch.corrected_classification, id=detection_id)
            notes.append(f"classification corrected to {patch.corrected_classification}")
        if "is_valid" in fields and patch.is_valid is not None:
            con.run("UPDATE detections SET is_valid = :v, updated_at = now() WHERE id = :id",
                    v=patch.is_valid, id=detection_id)
            notes.append("marked valid" if patch.is_valid else "marked invalid")
            current = con.run("SELECT deer_id FROM detections WHERE id = :id", id=detection_id)[0][0]
            if current is not None:
                touched.add(current)
        if patch.note:
            notes.append(patch.note)
        con.run("UPDATE detections SET reviewed_by = :by, reviewed_at = now() WHERE id = :id",
                by=actor, id=detection_id)
        if notes:
            con.run("UPDATE detections SET reid_note = left(concat_ws('; ', reid_note, CAST(:n AS TEXT)), 1000)"
                    " WHERE id = :id", n=f"review by {actor}: " + "; ".join(notes), id=detection_id)
        rebuild_deer(con, touched)
    logger.info("detection reviewed", extra={"detection_id": detection_id, "changes": notes, "reviewed_by": actor,
                                             "deer_rebuilt": sorted(touched)})
    return {"detection_id": detection_id, "changes": notes, "deer_rebuilt": sorted(touched), "reviewed_by": actor}
