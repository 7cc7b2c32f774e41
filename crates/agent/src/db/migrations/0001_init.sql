CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    key_hash     TEXT NOT NULL UNIQUE,
    key_prefix   TEXT NOT NULL,
    created_by   TEXT,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);

CREATE TABLE tasks (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               TEXT NOT NULL UNIQUE,
    zone_name        TEXT NOT NULL,
    operation        TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    priority         INTEGER NOT NULL DEFAULT 0,
    depends_on       TEXT,
    parent_task_id   TEXT,
    is_group         INTEGER NOT NULL DEFAULT 0,
    locks            TEXT NOT NULL DEFAULT '[]',
    created_by       TEXT,
    progress_percent INTEGER NOT NULL DEFAULT 0,
    progress_info    TEXT,
    error_message    TEXT,
    metadata         TEXT NOT NULL DEFAULT '{}',
    result           TEXT,
    created_at       TEXT NOT NULL,
    started_at       TEXT,
    completed_at     TEXT
);
CREATE INDEX tasks_by_status ON tasks (status);
CREATE INDEX tasks_by_zone ON tasks (zone_name, seq);
CREATE INDEX tasks_by_parent ON tasks (parent_task_id);
CREATE INDEX tasks_by_depends ON tasks (depends_on);

-- Append-only: a line is inserted once and never rewritten.
CREATE TABLE task_output (
    task_id TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    stream  TEXT NOT NULL,
    line    TEXT NOT NULL,
    ts      TEXT NOT NULL,
    PRIMARY KEY (task_id, seq)
) WITHOUT ROWID;

-- What a running operation is about to make on the host, written before it makes it, so the
-- undo can be replayed after a crash.
CREATE TABLE task_journal (
    task_id TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    entry   TEXT NOT NULL,
    PRIMARY KEY (task_id, seq)
) WITHOUT ROWID;

-- Secrets an operation needs (passwords), kept apart from task metadata and dropped when the
-- task ends.
CREATE TABLE task_secrets (
    task_id TEXT PRIMARY KEY,
    secrets TEXT NOT NULL
);
