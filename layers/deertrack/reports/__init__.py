"""Report data: every figure a PDF report shows, computed from PostgreSQL for a range and filters.

Counts use the effective classification (`corrected_classification` when a person set it, the
detector's `classification` otherwise) and only valid detections (`is_valid`). Dates are UTC days;
a range includes both its start and its end date.
"""

#: The public modules of this package (import them by name; nothing is loaded here).
__all__ = ["comparison", "deer_profile", "figures", "insights", "periods", "queries", "scope", "seasonal"]
