-- A deer's gallery of sightings (bounded exemplar embeddings), merges of deer that are one animal
-- (recorded with what they changed, so that each can be undone exactly), the merge job's
-- suggestions and reviewers' "not the same animal" answers. The demo data now goes through the
-- re-ID worker: detections the old seeder wrote pre-assigned to their true deer are reset to
-- pending (their truth rows stay), and the deer it made for them are removed.

ALTER TABLE deer
    -- float32 little-endian, exemplar_count x dim, in the order of exemplar_detection_ids
    ADD COLUMN exemplar_embeddings BYTEA,
    ADD COLUMN exemplar_detection_ids BIGINT[] NOT NULL DEFAULT '{}',
    ADD COLUMN merged_into INTEGER REFERENCES deer (id) ON DELETE SET NULL;

CREATE TABLE deer_merges (
    id                   BIGSERIAL PRIMARY KEY,
    kept_deer_id         INTEGER NOT NULL REFERENCES deer (id) ON DELETE CASCADE,
    merged_deer_id       INTEGER NOT NULL REFERENCES deer (id) ON DELETE CASCADE,
    method               TEXT NOT NULL CHECK (method IN ('auto', 'manual')),
    actor                TEXT NOT NULL CHECK (length(actor) BETWEEN 1 AND 200),
    reason               TEXT,
    score                NUMERIC(5, 4) CHECK (score BETWEEN -1 AND 1),
    threshold            NUMERIC(5, 4) CHECK (threshold BETWEEN 0 AND 1),
    evidence             JSONB NOT NULL DEFAULT '{}'::jsonb,
    -- what the merge changed, to undo it exactly
    moved_detection_ids  BIGINT[] NOT NULL,
    kept_detection_ids   BIGINT[] NOT NULL,
    relabelled_truth_ids BIGINT[] NOT NULL DEFAULT '{}',
    kept_before          JSONB NOT NULL,
    merged_before        JSONB NOT NULL,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    undone_at            TIMESTAMPTZ,
    undone_by            TEXT,
    CHECK (kept_deer_id <> merged_deer_id)
);
CREATE INDEX idx_deer_merges_kept ON deer_merges (kept_deer_id, created_at);
CREATE INDEX idx_deer_merges_merged ON deer_merges (merged_deer_id, created_at);

-- The score rows a merge replaced (both deer's rows of the detections it touched), ids included.
CREATE TABLE deer_merge_scores (
    merge_id                 BIGINT NOT NULL REFERENCES deer_merges (id) ON DELETE CASCADE,
    id                       BIGINT NOT NULL,
    detection_id             BIGINT NOT NULL,
    deer_id                  INTEGER NOT NULL,
    similarity_score         NUMERIC(5, 4) NOT NULL,
    threshold_used           NUMERIC(5, 4) NOT NULL,
    matched                  BOOLEAN NOT NULL,
    sex_match                BOOLEAN NOT NULL,
    detection_classification TEXT NOT NULL,
    deer_sex                 TEXT NOT NULL,
    calculated_at            TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (merge_id, id)
);

-- Pairs the merge job proposes (score at or above the suggestion threshold), replaced each run.
CREATE TABLE deer_merge_candidates (
    deer_a      INTEGER NOT NULL REFERENCES deer (id) ON DELETE CASCADE,
    deer_b      INTEGER NOT NULL REFERENCES deer (id) ON DELETE CASCADE,
    score       NUMERIC(5, 4) NOT NULL CHECK (score BETWEEN -1 AND 1),
    evidence    JSONB NOT NULL DEFAULT '{}'::jsonb,
    computed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (deer_a, deer_b),
    CHECK (deer_a < deer_b)
);
CREATE INDEX idx_deer_merge_candidates_score ON deer_merge_candidates (score DESC);

-- "Not the same animal": never suggested or merged automatically again.
CREATE TABLE deer_pair_decisions (
    deer_a     INTEGER NOT NULL REFERENCES deer (id) ON DELETE CASCADE,
    deer_b     INTEGER NOT NULL REFERENCES deer (id) ON DELETE CASCADE,
    decision   TEXT NOT NULL CHECK (decision IN ('not_same')),
    decided_by TEXT NOT NULL,
    note       TEXT,
    decided_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (deer_a, deer_b),
    CHECK (deer_a < deer_b)
);

-- The old demo seeder's pre-assigned detections go back to the re-ID queue.
DELETE FROM reid_similarity_scores s USING detections d
 WHERE s.detection_id = d.id AND d.reid_note = 'demo data: true individual';
UPDATE detections SET deer_id = NULL, burst_group = NULL, reid_status = 'pending', reid_note = NULL, reid_at = NULL,
       updated_at = now()
 WHERE reid_note = 'demo data: true individual';
DELETE FROM deer e WHERE e.notes LIKE 'demo individual demo-%'
   AND NOT EXISTS (SELECT 1 FROM detections d WHERE d.deer_id = e.id);
