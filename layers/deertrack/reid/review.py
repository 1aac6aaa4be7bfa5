"""A person's answers on a detection (PATCH /api/detections/{id}, the review page), each recorded so that it
can be undone exactly.

* `deer_id`: the detection belongs to that deer: its current deer (confirm) or another (reassign).
  Recorded as truth (detection_truth, source 'review'). The deer's sex must suit the detection's class
  (the worker's rule: `unknown` suits anything), after the same request's `corrected_classification`.
* `new_deer`: the detection is an animal no deer is yet: a new deer (named like the worker's) gets it,
  as truth too.
* `corrected_classification`: the sex/age class a person sees (null clears it).
* `is_valid`: false removes the detection from its deer's counts and profile (true puts it back).
* `note`: kept in reid_note (alone, it is the answer "note").

Each answer is one detection_reviews row: its action (confirm, reassign, new_deer, invalid, valid,
classify, note), whether it decides the detection (confirm, reassign, new_deer, invalid: off the review
queue), the reviewer, and the detection's review columns and truth row as they were. `undo_review` puts
those back (the last answer of a detection first; refused when a merge has moved the detection since)
and removes a deer the answer made once it has no detection left.

The reviewer (`actor`, the token's user) is recorded on the detection (`reviewed_by`, `reviewed_at`), on
the truth it makes (`detection_truth.recorded_by`) and in the note. Every deer the change touches is
rebuilt from its remaining valid detections (count, first/last seen, profile embedding), under the
gallery lock, in one transaction.
"""

from __future__ import annotations

import json
from typing import Any, Final

import pg8000.native
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, model_validator

from deertrack.classifications import Classification
from deertrack.db import rows_as_dicts, transaction
from deertrack.inputs import INT4_MAX, Int4Id
from deertrack.logs import logger
from deertrack.problems import Conflict, NotFound, Problem, RequestInvalid
from deertrack.reid.assignment import deer_name, lock_gallery, next_deer_number
from deertrack.reid.classes import effective_class
from deertrack.reid.profiles import rebuild_deer
from deertrack.reid.scoring import sex_match

#: Answers that settle a detection's identity (or that it is no deer): it leaves the review queue.
DECIDING: Final = frozenset({"confirm", "reassign", "new_deer", "invalid"})
#: The detection's columns an answer changes and its undo restores.
_RESTORED: Final = ("deer_id", "corrected_classification", "is_valid", "reid_status", "reid_note", "reviewed_by",
                    "reviewed_at")


def _patch_schema(schema: dict[str, Any]) -> None:
    """What the validator below enforces, said in JSON Schema: deer_id and is_valid are never null, new_deer
    is only ever true, not with deer_id, and a note alone is not empty."""
    props = schema["properties"]
    props["deer_id"] = {"type": "integer", "minimum": 1, "maximum": INT4_MAX,
                        "description": props["deer_id"].get("description", "")}
    props["is_valid"] = {"type": "boolean"}
    props["new_deer"] = {"const": True, "description": props["new_deer"].get("description", "")}
    schema["minProperties"] = 1
    schema["not"] = {"anyOf": [
        {"required": ["deer_id", "new_deer"]},
        {"required": ["note"], "maxProperties": 1,
         "properties": {"note": {"anyOf": [{"type": "null"}, {"type": "string", "maxLength": 0}]}}},
    ]}


#: What PATCH /api/detections/{id} checks that its schema cannot say.
PATCH_BEYOND_SCHEMA: Final = {
    "known_deer": "deer_id names a deer that exists",
    "sex_match": "the deer's sex suits the detection's class (after corrected_classification)",
}


class DetectionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_patch_schema)
    corrected_classification: Classification | None = None
    deer_id: Int4Id | None = Field(None,
                                      description="the deer it is: its own (confirm) or another (reassign)")
    new_deer: StrictBool = Field(False, description="true: a new deer is made for it")
    is_valid: StrictBool | None = None
    note: StrictStr | None = Field(None, max_length=500, description="why (kept in reid_note)")

    @model_validator(mode="after")
    def _something(self) -> DetectionPatch:
        if not self.model_fields_set or (self.model_fields_set == {"note"} and not self.note):
            raise ValueError("give at least one of corrected_classification, deer_id, new_deer, is_valid, note")
        if "deer_id" in self.model_fields_set and self.deer_id is None:
            raise ValueError("deer_id must be a deer id (re-assign), not null")
        if "is_valid" in self.model_fields_set and self.is_valid is None:
            raise ValueError("is_valid must be true or false")
        if self.new_deer and self.deer_id is not None:
            raise ValueError("give deer_id or new_deer, not both")
        if "new_deer" in self.model_fields_set and not self.new_deer:
            raise ValueError("new_deer can only be true (leave it out otherwise)")
        return self

    def action(self, current_deer: int | None) -> str:
        """What the answer is, for the review log."""
        if self.new_deer:
            return "new_deer"
        if self.deer_id is not None:
            return "confirm" if self.deer_id == current_deer else "reassign"
        if self.is_valid is not None:
            return "valid" if self.is_valid else "invalid"
        return "classify" if "corrected_classification" in self.model_fields_set else "note"


def review_individual_key(deer_id: int) -> str:
    return f"deer-{deer_id}"


def _state(con: pg8000.native.Connection, detection_id: int) -> dict[str, Any] | None:
    """The detection's review columns and truth row, JSON-ready (what an undo puts back)."""
    rows = con.run(
        "SELECT jsonb_build_object('deer_id', d.deer_id, 'corrected_classification', d.corrected_classification,"
        " 'is_valid', d.is_valid, 'reid_status', d.reid_status, 'reid_note', d.reid_note, 'reviewed_by',"
        " d.reviewed_by, 'reviewed_at', d.reviewed_at, 'truth', CASE WHEN t.detection_id IS NULL THEN NULL ELSE"
        " jsonb_build_object('individual_key', t.individual_key, 'source', t.source, 'recorded_at', t.recorded_at,"
        " 'recorded_by', t.recorded_by) END)"
        " FROM detections d LEFT JOIN detection_truth t ON t.detection_id = d.id WHERE d.id = :id FOR UPDATE OF d",
        id=detection_id)
    if not rows:
        return None
    state = rows[0][0]
    return json.loads(state) if isinstance(state, str) else state


def _write_truth(con: pg8000.native.Connection, detection_id: int, deer_id: int, actor: str) -> None:
    con.run(
        "INSERT INTO detection_truth (detection_id, individual_key, source, recorded_by)"
        " VALUES (:id, :key, 'review', :by)"
        " ON CONFLICT (detection_id) DO UPDATE SET individual_key = EXCLUDED.individual_key,"
        " source = 'review', recorded_at = now(), recorded_by = EXCLUDED.recorded_by",
        id=detection_id, key=review_individual_key(deer_id), by=actor,
    )


def _new_deer(con: pg8000.native.Connection, classification: str, actor: str) -> int:
    return con.run("INSERT INTO deer (name, sex, notes) VALUES (:name, :sex, :notes) RETURNING id",
                   name=deer_name(next_deer_number(con)), sex=classification,
                   notes=f"made by review ({actor})")[0][0]


def apply_patch(con: pg8000.native.Connection, detection_id: int, patch: DetectionPatch, *,
                actor: str) -> dict[str, Any]:
    """Apply `actor`'s answer and record it; returns what changed. Raises NotFound / RequestInvalid."""
    fields = patch.model_fields_set
    with transaction(con):
        lock_gallery(con)
        before = _state(con, detection_id)
        if before is None:
            raise NotFound(f"no detection {detection_id}")
        old_deer = before["deer_id"]
        detector, confidence, corrected = con.run(
            "SELECT classification, confidence, corrected_classification FROM detections WHERE id = :id",
            id=detection_id)[0]
        if "corrected_classification" in fields:
            corrected = patch.corrected_classification
        classification = corrected or detector  # what a person sees: a new deer's sex, the messages
        trusted = effective_class(detector, confidence, corrected)  # what re-ID's sex rule trusts (classes.py)
        action = patch.action(old_deer)
        touched: set[int] = set()
        notes = []
        target = patch.deer_id
        created = None
        if target is not None:
            deer = con.run("SELECT name, sex FROM deer WHERE id = :id", id=target)
            if not deer:
                raise RequestInvalid([Problem("deer_id", "known_deer", f"deer_id: no deer {target}")])
            name, sex = deer[0]
            if not sex_match(trusted, sex):  # an unsure detector label binds nothing, as in re-ID
                raise RequestInvalid([Problem(
                    "deer_id", "sex_match",
                    f"deer_id: deer {target} ({name}) is a {sex} and detection {detection_id} is a"
                    f" {classification}; pick a {classification} deer, or correct the classification in the"
                    " same request (corrected_classification)")])
        if patch.new_deer:
            created = target = _new_deer(con, classification, actor)
        if target is not None:
            if target != old_deer:
                con.run("UPDATE detections SET deer_id = :deer, reid_status = :status, updated_at = now()"
                        " WHERE id = :id", deer=target, status="new_deer" if created else "assigned",
                        id=detection_id)
                notes.append(f"new deer {target} by review" if created else
                             f"reassigned by review from deer {old_deer} to deer {target}")
                touched |= {d for d in (old_deer, target) if d is not None}
            else:
                notes.append(f"deer {target} confirmed")
            _write_truth(con, detection_id, target, actor)
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
        con.run("UPDATE detections SET reviewed_by = :by, reviewed_at = now(),"
                " reid_note = left(concat_ws('; ', reid_note, CAST(:n AS TEXT)), 1000) WHERE id = :id",
                by=actor, n=f"review by {actor}: " + "; ".join(notes), id=detection_id)
        review_id = con.run(
            "INSERT INTO detection_reviews (detection_id, action, decides, actor, note, before, deer_id,"
            " created_deer_id) VALUES (:d, :a, :decides, :actor, :note, CAST(:before AS JSONB), :deer, :created)"
            " RETURNING id", d=detection_id, a=action, decides=action in DECIDING, actor=actor[:200],
            note=patch.note, before=json.dumps(before), deer=target, created=created)[0][0]
        rebuild_deer(con, touched)
    logger.info("detection reviewed", extra={"detection_id": detection_id, "review_id": review_id,
                                             "action": action, "changes": notes, "reviewed_by": actor,
                                             "deer_rebuilt": sorted(touched)})
    return {"review_id": review_id, "detection_id": detection_id, "action": action, "changes": notes,
            "deer_id": target, "created_deer_id": created, "deer_rebuilt": sorted(touched), "reviewed_by": actor,
            "undo_url": f"/api/reviews/{review_id}/undo"}


def _refused(rule: str, message: str) -> Conflict:
    return Conflict(Problem("review_id", rule, message))


def undo_review(con: pg8000.native.Connection, review_id: int, actor: str) -> dict[str, Any]:
    """Put the detection back as it was before answer `review_id`. Raises NotFound / Conflict."""
    with transaction(con):
        lock_gallery(con)
        rows = rows_as_dicts(con, "SELECT id, detection_id, action, before, deer_id, created_deer_id, undone_at"
                                  " FROM detection_reviews WHERE id = :id FOR UPDATE", id=review_id)
        if not rows:
            raise NotFound(f"no review {review_id}")
        review = rows[0]
        if review["undone_at"] is not None:
            raise _refused("already_undone", f"review {review_id} was undone already")
        detection_id = review["detection_id"]
        later = con.run("SELECT id FROM detection_reviews WHERE detection_id = :d AND id > :id AND undone_at IS NULL"
                        " ORDER BY id DESC LIMIT 1", d=detection_id, id=review_id)
        if later:
            raise _refused("undo_order", f"detection {detection_id} has a later answer; undo review {later[0][0]}"
                                         " first")
        now = _state(con, detection_id)
        before = review["before"] if isinstance(review["before"], dict) else json.loads(review["before"])
        if now is None:
            raise NotFound(f"no detection {detection_id}")
        if review["deer_id"] is not None and now["deer_id"] != review["deer_id"]:
            raise _refused("changed_since", f"detection {detection_id} belongs to deer {now['deer_id']} now, not to"
                                            f" deer {review['deer_id']} as review {review_id} left it (a merge?);"
                                            " undo that first")
        con.run("UPDATE detections SET deer_id = :deer_id, corrected_classification = :corrected_classification,"
                " is_valid = :is_valid, reid_status = :reid_status, reid_note = :reid_note,"
                " reviewed_by = :reviewed_by, reviewed_at = CAST(:reviewed_at AS TIMESTAMPTZ), updated_at = now()"
                " WHERE id = :id", id=detection_id, **{k: before[k] for k in _RESTORED})
        con.run("DELETE FROM detection_truth WHERE detection_id = :id", id=detection_id)
        truth = before.get("truth")
        if truth:
            con.run("INSERT INTO detection_truth (detection_id, individual_key, source, recorded_at, recorded_by)"
                    " VALUES (:id, :key, :source, CAST(:at AS TIMESTAMPTZ), :by)", id=detection_id,
                    key=truth["individual_key"], source=truth["source"], at=truth["recorded_at"],
                    by=truth["recorded_by"])
        touched = {d for d in (now["deer_id"], before["deer_id"]) if d is not None}
        removed = None
        created = review["created_deer_id"]
        if created is not None and not con.run(
                "SELECT 1 FROM detections WHERE deer_id = :d UNION ALL SELECT 1 FROM deer_merges"
                " WHERE kept_deer_id = :d OR merged_deer_id = :d LIMIT 1", d=created):
            con.run("DELETE FROM deer WHERE id = :d", d=created)
            touched.discard(created)
            removed = created
        con.run("UPDATE detection_reviews SET undone_at = now(), undone_by = :by WHERE id = :id",
                by=actor[:200], id=review_id)
        rebuild_deer(con, touched)
    logger.info("review undone", extra={"detection_id": detection_id, "review_id": review_id,
                                        "action": review["action"], "undone_by": actor, "deer_removed": removed,
                                        "deer_rebuilt": sorted(touched)})
    return {"review_id": review_id, "detection_id": detection_id, "action": review["action"], "undone_by": actor,
            "deer_id": before["deer_id"], "deer_removed": removed, "deer_rebuilt": sorted(touched)}
