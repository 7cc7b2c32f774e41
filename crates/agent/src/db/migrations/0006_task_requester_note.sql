-- The requester's own label (a request's `created_by`, which the Zoneweaver UI fills with its
-- signed-in user's name), beside `created_by` (the API key's name).
ALTER TABLE tasks ADD COLUMN requester_note TEXT;
