-- When a task last changed (status, progress, result): clients polling for changes ask for
-- the tasks changed since the newest they saw (`GET /tasks?since=`).
ALTER TABLE tasks ADD COLUMN updated_at TEXT;
UPDATE tasks SET updated_at = COALESCE(completed_at, started_at, created_at);
CREATE INDEX tasks_by_updated ON tasks (updated_at);
