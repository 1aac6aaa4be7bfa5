-- Backfill runs and their shards: what a re-scoring run covers and how far it got, so a stopped run
-- resumes where it was and a redelivered shard message is recognised as done.

CREATE TABLE backfill_runs (
    id               TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
    trigger          TEXT NOT NULL CHECK (trigger IN ('cli', 'api', 'schedule', 'bench')),
    -- atomic: one shard, the whole score log replaced in one transaction (TRUNCATE + COPY).
    atomic           BOOLEAN NOT NULL DEFAULT FALSE,
    since            TIMESTAMPTZ,
    detection_limit  INTEGER CHECK (detection_limit > 0),
    threshold        NUMERIC(5, 4) NOT NULL CHECK (threshold BETWEEN 0 AND 1),
    job_id           TEXT,
    status           TEXT NOT NULL DEFAULT 'running'
                     CHECK (status IN ('running', 'completed', 'failed', 'abandoned')),
    total_detections INTEGER NOT NULL DEFAULT 0 CHECK (total_detections >= 0),
    total_shards     INTEGER NOT NULL DEFAULT 0 CHECK (total_shards >= 0),
    error            TEXT,
    started_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at      TIMESTAMPTZ
);
CREATE INDEX idx_backfill_runs_status ON backfill_runs (status, started_at);

CREATE TABLE backfill_shards (
    run_id             TEXT NOT NULL REFERENCES backfill_runs (id) ON DELETE CASCADE,
    shard              INTEGER NOT NULL CHECK (shard >= 0),
    first_detection_id BIGINT NOT NULL,
    last_detection_id  BIGINT NOT NULL,
    detections         INTEGER NOT NULL CHECK (detections >= 0),
    rows_written       BIGINT CHECK (rows_written >= 0),
    done_at            TIMESTAMPTZ,
    PRIMARY KEY (run_id, shard),
    CHECK (last_detection_id >= first_detection_id)
);
