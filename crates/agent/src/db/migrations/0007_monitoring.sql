-- The monitoring sampler's history: one row per figure kind (cpu, memory, arc, link, pool_io)
-- and entity (a link or pool name; '' for host-wide kinds) per sample. `data` is the row as
-- the /monitoring routes answer it (JSON); `taken_at` is milliseconds since the epoch, for
-- the range queries and the retention prune.
CREATE TABLE monitoring_samples (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    entity TEXT NOT NULL,
    taken_at INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX monitoring_samples_by_kind ON monitoring_samples (kind, entity, taken_at);
CREATE INDEX monitoring_samples_by_age ON monitoring_samples (taken_at);
