-- Coffre PostgreSQL schema, version 5 (SQLite's migration 014): an
-- extension beyond a size needs two approvers; the first approval is kept
-- here until a second, other approver completes it.
ALTER TABLE extensions ADD COLUMN first_approver TEXT NOT NULL DEFAULT '';
