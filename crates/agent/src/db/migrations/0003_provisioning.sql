-- Provisioning: uploaded artifacts, console recipes, and each zone's latest pipeline.

-- An artifact's bytes live in <provisioning.artifacts_dir>/<id>; the client's file name is
-- only ever shown, never used as a path.
CREATE TABLE provisioning_artifacts (
    id          TEXT PRIMARY KEY,
    filename    TEXT NOT NULL,
    size        INTEGER NOT NULL,
    sha256      TEXT NOT NULL,
    created_by  TEXT,
    created_at  TEXT NOT NULL
);

-- Recipes written by clients (the built-in ones live in the code).
CREATE TABLE provisioning_recipes (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    os_family   TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- The latest pipeline of each zone: its group task and the task of each stage.
CREATE TABLE provisioning_runs (
    zone_name           TEXT PRIMARY KEY,
    group_task_id       TEXT NOT NULL,
    stages              TEXT NOT NULL,
    started_at          TEXT NOT NULL,
    last_provisioned_at TEXT
);
