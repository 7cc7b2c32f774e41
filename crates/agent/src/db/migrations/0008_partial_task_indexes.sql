-- Most tasks have no parent and depend on nothing. Indexing only those that do spares every
-- task's insert two index pages (a few microseconds on a zone create's path); the lookups are
-- by equality, which a partial index serves.
DROP INDEX tasks_by_parent;
CREATE INDEX tasks_by_parent ON tasks (parent_task_id) WHERE parent_task_id IS NOT NULL;
DROP INDEX tasks_by_depends;
CREATE INDEX tasks_by_depends ON tasks (depends_on) WHERE depends_on IS NOT NULL;
