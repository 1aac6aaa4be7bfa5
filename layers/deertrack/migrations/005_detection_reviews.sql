-- Reviewers' answers on the review page (and PATCH /api/detections/{id}): one row per answer, with
-- what it replaced, so that the last answer can be undone exactly. An answer that decides a
-- detection's identity (confirm, reassign, new_deer, invalid) takes it off the review queue.

CREATE TABLE detection_reviews (
    id              BIGSERIAL PRIMARY KEY,
    detection_id    BIGINT NOT NULL REFERENCES detections (id) ON DELETE CASCADE,
    action          TEXT NOT NULL
                    CHECK (action IN ('confirm', 'reassign', 'new_deer', 'invalid', 'valid', 'classify', 'note')),
    decides         BOOLEAN NOT NULL,
    actor           TEXT NOT NULL CHECK (length(actor) BETWEEN 1 AND 200),
    note            TEXT,
    -- the detection's review columns and truth row as they were, to undo exactly
    before          JSONB NOT NULL,
    deer_id         INTEGER REFERENCES deer (id) ON DELETE SET NULL,
    created_deer_id INTEGER REFERENCES deer (id) ON DELETE SET NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    undone_at       TIMESTAMPTZ,
    undone_by       TEXT
);
CREATE INDEX idx_detection_reviews_detection ON detection_reviews (detection_id, id);
-- the queue's "already decided" test
CREATE INDEX idx_detection_reviews_decided ON detection_reviews (detection_id) WHERE decides AND undone_at IS NULL;
CREATE INDEX idx_detection_reviews_actor ON detection_reviews (actor, id);

-- The score log's index by detection now also orders each detection's scores (still seven indexes): the
-- queue's close calls read a detection's two best scores without sorting its whole row set.
DROP INDEX idx_reid_scores_detection;
CREATE INDEX idx_reid_scores_detection ON reid_similarity_scores (detection_id, similarity_score DESC);
-- Its "new deer with few sightings".
CREATE INDEX idx_deer_sighting_count ON deer (sighting_count) WHERE status <> 'merged';
