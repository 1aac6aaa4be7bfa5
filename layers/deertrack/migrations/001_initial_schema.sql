-- deertrack schema: cameras, images, detections, individual deer and the re-ID score log.

CREATE TABLE locations (
    id               SERIAL PRIMARY KEY,
    code             TEXT NOT NULL UNIQUE CHECK (length(code) BETWEEN 1 AND 64),
    name             TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    latitude         DOUBLE PRECISION NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude        DOUBLE PRECISION NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    habitat          TEXT,
    camera_model     TEXT,
    deployment_start TIMESTAMPTZ,
    deployment_end   TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (deployment_end IS NULL OR deployment_start IS NULL OR deployment_end >= deployment_start)
);

CREATE TABLE images (
    id          BIGSERIAL PRIMARY KEY,
    s3_key      TEXT NOT NULL UNIQUE CHECK (length(s3_key) > 0),
    location_id INTEGER NOT NULL REFERENCES locations (id) ON DELETE RESTRICT,
    captured_at TIMESTAMPTZ NOT NULL,
    width       INTEGER CHECK (width > 0),
    height      INTEGER CHECK (height > 0),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_images_location_time ON images (location_id, captured_at);
CREATE INDEX idx_images_captured_at ON images (captured_at);

CREATE TABLE deer (
    id                SERIAL PRIMARY KEY,
    name              TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    sex               TEXT NOT NULL DEFAULT 'unknown' CHECK (sex IN ('buck', 'doe', 'fawn', 'unknown')),
    status            TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive', 'deceased', 'merged')),
    first_seen        TIMESTAMPTZ,
    last_seen         TIMESTAMPTZ,
    sighting_count    INTEGER NOT NULL DEFAULT 0 CHECK (sighting_count >= 0),
    -- L2-normalized float32 vector, little-endian bytes; profile_embedding_count detections went into it.
    profile_embedding BYTEA,
    profile_embedding_count INTEGER NOT NULL DEFAULT 0 CHECK (profile_embedding_count >= 0),
    notes             TEXT,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (last_seen IS NULL OR first_seen IS NULL OR last_seen >= first_seen)
);
CREATE INDEX idx_deer_sex_status ON deer (sex, status);

CREATE TABLE detections (
    id                       BIGSERIAL PRIMARY KEY,
    image_id                 BIGINT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    bbox_x                   INTEGER NOT NULL CHECK (bbox_x >= 0),
    bbox_y                   INTEGER NOT NULL CHECK (bbox_y >= 0),
    bbox_width               INTEGER NOT NULL CHECK (bbox_width > 0),
    bbox_height              INTEGER NOT NULL CHECK (bbox_height > 0),
    confidence               REAL NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
    classification           TEXT NOT NULL CHECK (classification IN ('buck', 'doe', 'fawn', 'unknown')),
    corrected_classification TEXT CHECK (corrected_classification IN ('buck', 'doe', 'fawn', 'unknown')),
    is_valid                 BOOLEAN NOT NULL DEFAULT TRUE,
    deer_id                  INTEGER REFERENCES deer (id) ON DELETE SET NULL,
    burst_group              TEXT,
    -- L2-normalized float32 vector, little-endian bytes.
    embedding                BYTEA,
    embedding_model          TEXT,
    reid_status              TEXT NOT NULL DEFAULT 'pending'
                             CHECK (reid_status IN ('pending', 'assigned', 'new_deer', 'skipped', 'failed')),
    reid_note                TEXT,
    reid_at                  TIMESTAMPTZ,
    created_at               TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at               TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_detections_image ON detections (image_id);
CREATE INDEX idx_detections_deer ON detections (deer_id);
CREATE INDEX idx_detections_burst ON detections (burst_group);
CREATE INDEX idx_detections_reid_status ON detections (reid_status);

-- Identities known to be true: from the demo generator, or from a person's review.
CREATE TABLE detection_truth (
    detection_id     BIGINT PRIMARY KEY REFERENCES detections (id) ON DELETE CASCADE,
    individual_key   TEXT NOT NULL,
    source           TEXT NOT NULL CHECK (source IN ('demo', 'review', 'import')),
    recorded_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_detection_truth_individual ON detection_truth (individual_key);

-- Every similarity computed by re-identification, for threshold tuning.
CREATE TABLE reid_similarity_scores (
    id                       BIGSERIAL PRIMARY KEY,
    detection_id             BIGINT NOT NULL REFERENCES detections (id) ON DELETE CASCADE,
    deer_id                  INTEGER NOT NULL REFERENCES deer (id) ON DELETE CASCADE,
    similarity_score         NUMERIC(5, 4) NOT NULL CHECK (similarity_score BETWEEN -1 AND 1),
    threshold_used           NUMERIC(5, 4) NOT NULL CHECK (threshold_used BETWEEN 0 AND 1),
    matched                  BOOLEAN NOT NULL,
    sex_match                BOOLEAN NOT NULL,
    detection_classification TEXT NOT NULL CHECK (detection_classification IN ('buck', 'doe', 'fawn', 'unknown')),
    deer_sex                 TEXT NOT NULL CHECK (deer_sex IN ('buck', 'doe', 'fawn', 'unknown')),
    calculated_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT reid_similarity_scores_detection_deer_key UNIQUE (detection_id, deer_id)
);
CREATE INDEX idx_reid_scores_detection ON reid_similarity_scores (detection_id);
CREATE INDEX idx_reid_scores_deer ON reid_similarity_scores (deer_id);
CREATE INDEX idx_reid_scores_calculated_at ON reid_similarity_scores (calculated_at);
CREATE INDEX idx_reid_scores_similarity ON reid_similarity_scores (similarity_score);
CREATE INDEX idx_reid_scores_matched ON reid_similarity_scores (matched);
CREATE INDEX idx_reid_scores_sex_match ON reid_similarity_scores (sex_match);
CREATE INDEX idx_reid_scores_analysis ON reid_similarity_scores (calculated_at, matched, sex_match);
