-- Who did it: the user (token username) or service identity (service:schedule, ...) behind a backfill run
-- and behind a person's review of a detection.

ALTER TABLE backfill_runs ADD COLUMN requested_by TEXT;

ALTER TABLE detections ADD COLUMN reviewed_by TEXT;
ALTER TABLE detections ADD COLUMN reviewed_at TIMESTAMPTZ;

ALTER TABLE detection_truth ADD COLUMN recorded_by TEXT;
