"""Detection ingest: HTTP batches and MegaDetector batch-output files become images + detections,
then one re-ID message per batch."""
