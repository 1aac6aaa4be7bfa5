-- Each ingest (POST /api/detections, a MegaDetector import) records the detections it stored or found
-- already stored, so that GET /api/ingest/{batch_id} can say how far their re-identification has got.
CREATE TABLE ingest_batches (
    batch_id TEXT PRIMARY KEY,
    detection_ids BIGINT[] NOT NULL,
    images_accepted INTEGER NOT NULL CHECK (images_accepted >= 0),
    refused INTEGER NOT NULL DEFAULT 0 CHECK (refused >= 0),  -- records and boxes refused (the answer's details)
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_ingest_batches_created_at ON ingest_batches (created_at);
