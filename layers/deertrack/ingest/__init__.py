"""Detection ingest: HTTP batches and MegaDetector batch-output files become images + detections,
then one re-ID message per batch."""

#: The public modules of this package (import them by name; nothing is loaded here).
__all__ = ["batches", "images", "intake", "megadetector", "s3_import", "schema", "store"]
