-- Re-ID may leave a detection for a person: it matched no deer and its crop (covered by another
-- animal's box, or cut off at the picture's edge) is too poor to found a new deer
-- (layers/deertrack/reid/crop_quality.py).
ALTER TABLE detections DROP CONSTRAINT IF EXISTS detections_reid_status_check;
ALTER TABLE detections ADD CONSTRAINT detections_reid_status_check
    CHECK (reid_status IN ('pending', 'assigned', 'new_deer', 'needs_review', 'skipped', 'failed'));
