"""MegaDetector results files put under detections/ in the images bucket are imported like the CLI does.

For `detections/<folder>/<name>.json` the photos are looked up under `images/<folder>/` unless the
file says otherwise in an optional top-level object (MegaDetector ignores unknown keys):

    "deertrack": {"images_prefix": "...", "location": "CAM-01", "min_confidence": 0.3,
                  "classification": "doe"}

The outcome (counts and every error line) is written to `import-results/<key>` in the same bucket
(outside detections/, so it does not trigger another import). A file that is not MegaDetector output
is a final failure, recorded there too; only transient errors (database or S3 down) propagate, so
the queue redelivers. Importing the same file again stores nothing twice.
"""

from __future__ import annotations

import json
import posixpath
from typing import Any

from deertrack.classifications import CLASSIFICATIONS
from deertrack.ingest.megadetector import (
    DEFAULT_MIN_CONFIDENCE,
    ImportOptions,
    ResultsFileInvalid,
    import_results,
    load_results,
)
from deertrack.logs import logger
from deertrack.storage import ObjectMissing, get_bytes, put_bytes

RESULTS_PREFIX = "detections/"
OUTCOME_PREFIX = "import-results/"
DEFAULT_IMAGES_ROOT = "images/"


def default_options(key: str, doc: dict[str, Any]) -> ImportOptions:
    folder = posixpath.dirname(key[len(RESULTS_PREFIX):] if key.startswith(RESULTS_PREFIX) else key)
    prefix = DEFAULT_IMAGES_ROOT + (folder + "/" if folder else "")
    given = doc.get("deertrack") if isinstance(doc.get("deertrack"), dict) else {}
    try:
        min_confidence = float(given.get("min_confidence", DEFAULT_MIN_CONFIDENCE))
    except (TypeError, ValueError):
        raise ResultsFileInvalid("deertrack.min_confidence must be a number") from None
    if not 0.0 <= min_confidence <= 1.0:
        raise ResultsFileInvalid("deertrack.min_confidence must be in 0..1")
    classification = given.get("classification")
    if classification is not None and classification not in CLASSIFICATIONS:
        raise ResultsFileInvalid("deertrack.classification must be buck, doe, fawn or unknown")
    return ImportOptions(
        images_prefix=str(given.get("images_prefix", prefix)),
        location=str(given["location"]) if given.get("location") else None,
        min_confidence=min_confidence,
        classification=classification,
    )


def outcome_key(key: str) -> str:
    return OUTCOME_PREFIX + key


def import_s3_object(bucket: str, key: str) -> dict[str, Any]:
    """Import one results file; returns (and stores) its outcome."""
    try:
        data = get_bytes(bucket, key)
    except ObjectMissing:
        logger.warning("results file gone before it could be imported", extra={"bucket": bucket, "key": key})
        return {"status": "missing", "key": key}
    try:
        doc = load_results(data)
        options = default_options(key, doc)
        report = import_results(doc, options, batch_id=None)
        outcome: dict[str, Any] = {"status": "imported" if not report.problems else "imported_with_errors",
                                   "key": key, "images_prefix": options.images_prefix, **report.as_dict()}
    except ResultsFileInvalid as exc:
        outcome = {"status": "failed", "key": key, "error": str(exc)}
    put_bytes(bucket, outcome_key(key), json.dumps(outcome, indent=2).encode(), "application/json")
    level = logger.info if outcome["status"] == "imported" else logger.warning
    level("MegaDetector results imported from S3",
          extra={"bucket": bucket, "key": key, "status": outcome["status"], "batch_id": outcome.get("batch_id"),
                 "detections": outcome.get("detections"), "errors": len(outcome.get("errors", []))})
    return outcome
