"""The class re-identification's sex rule trusts: a person's correction, else a confident detector class.

A detector's buck / doe / fawn label is wrong now and then, mostly when it is unsure; a wrong label
would forbid the detection's own deer (buck↔buck, doe↔doe, fawn↔fawn) and make a new deer of the
wrong sex that no merge may ever join back. So a detector class below REID_CLASS_MIN_CONFIDENCE
counts as `unknown` (matches any deer) for re-identification; a corrected class always counts.
The stored classification is never changed.
"""

from __future__ import annotations

from deertrack.reid.scoring import UNKNOWN


def effective_class(classification: str, confidence: float | None, corrected: str | None = None,
                    min_confidence: float | None = None) -> str:
    if corrected is not None:
        return corrected
    if min_confidence is None:
        from deertrack.settings import get_settings

        min_confidence = get_settings().reid_class_min_confidence
    if confidence is not None and float(confidence) < min_confidence:
        return UNKNOWN
    return classification


def class_sql(alias: str = "d", min_confidence: float | None = None) -> str:
    """The same rule as a SQL expression over detections `alias`."""
    if min_confidence is None:
        from deertrack.settings import get_settings

        min_confidence = get_settings().reid_class_min_confidence
    cutoff = f"{float(min_confidence):.4f}"
    return (f"coalesce({alias}.corrected_classification, CASE WHEN {alias}.confidence >= {cutoff}"
            f" THEN {alias}.classification ELSE 'unknown' END)")
