-- What only the agent knows about a zone; the host is the truth for its state and config.
CREATE TABLE zones (
    name            TEXT PRIMARY KEY,
    brand           TEXT NOT NULL,
    -- creating: a zone_create task owns it; ready: created; deleting: a delete is queued.
    status          TEXT NOT NULL CHECK (status IN ('creating', 'ready', 'deleting')),
    -- The zone's own dataset (POOL/DATASET/NAME); cleanup never leaves it.
    root_dataset    TEXT,
    created_by      TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    -- Bumped on every change the agent makes; part of the ETag.
    version         INTEGER NOT NULL DEFAULT 1,
    -- Changes applied to the configuration of a running zone, waiting for its next boot.
    pending_changes TEXT NOT NULL DEFAULT '[]',
    -- Provisioning settings (never secrets: those live in zone_secrets).
    provisioning    TEXT
);

CREATE TABLE zone_secrets (
    zone_name TEXT PRIMARY KEY,
    secrets   TEXT NOT NULL
);
